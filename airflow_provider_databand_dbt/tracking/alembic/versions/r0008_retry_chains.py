"""Each run remembers the run it retries (dbt Cloud's rerun from failure): retry chains.

Revision ID: r0008
Revises: r0007
"""

from __future__ import annotations

from alembic import op

from airflow_provider_databand_dbt.tracking.migrations_retry_chains import upgrade_retry_chains

revision = "r0008"
down_revision = "r0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    upgrade_retry_chains(op.get_bind())
