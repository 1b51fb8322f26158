"""Legacy version 4: an index on a pipeline's runs by status and date, so they are counted from it alone.

Revision ID: r0004
Revises: r0003
"""

from __future__ import annotations

from alembic import op

from airflow_provider_databand_dbt.tracking.schema import PREFIX

revision = "r0004"
down_revision = "r0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        f"ix_{PREFIX}run_pipeline_status_created", f"{PREFIX}run", ["pipeline_id", "status", "created_at", "run_id"]
    )
