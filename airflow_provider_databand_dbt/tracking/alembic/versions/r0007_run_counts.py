"""Each pipeline's run count on its row, kept by the write that adds a run (counted once from the stored runs).

Revision ID: r0007
Revises: r0006
"""

from __future__ import annotations

from alembic import op

from airflow_provider_databand_dbt.tracking.run_counts import upgrade_run_counts

revision = "r0007"
down_revision = "r0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    upgrade_run_counts(op.get_bind())
