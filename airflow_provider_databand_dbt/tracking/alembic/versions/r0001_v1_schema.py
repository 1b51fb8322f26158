"""The 0.1.0 schema (legacy version 1): pipelines, runs, steps, node results, sources, monitor cursors and leases.

Revision ID: r0001
"""

from __future__ import annotations

from alembic import op

from airflow_provider_databand_dbt.tracking.schema_history import tables

revision = "r0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    tables(1).create_all(op.get_bind())
