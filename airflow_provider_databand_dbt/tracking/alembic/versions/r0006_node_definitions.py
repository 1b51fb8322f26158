"""Store v2: node definitions stored once per version, node results slim (rewrites every stored node result).

Revision ID: r0006
Revises: r0005
"""

from __future__ import annotations

from alembic import op

from airflow_provider_databand_dbt.tracking.migrations_node_definitions import upgrade_node_definitions

revision = "r0006"
down_revision = "r0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    upgrade_node_definitions(op.get_bind())
