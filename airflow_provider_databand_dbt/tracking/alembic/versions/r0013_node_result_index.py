"""Node results without the (run_pk, status) index: the unique (run_pk, step_index, node_id) serves every query.

Revision ID: r0013
Revises: r0012
"""

from __future__ import annotations

from alembic import op

from airflow_provider_databand_dbt.tracking.migrations_node_result_index import upgrade_node_result_index

revision = "r0013"
down_revision = "r0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    upgrade_node_result_index(op.get_bind())
