"""Legacy version 3: runs a monitor syncer failed to track, with the reason (a new table only).

Revision ID: r0003
Revises: r0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from airflow_provider_databand_dbt.tracking.schema import PREFIX, Timestamp

revision = "r0003"
down_revision = "r0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        f"{PREFIX}monitor_failed_run",
        sa.Column("syncer", sa.String(255), primary_key=True),
        sa.Column("run_id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("account_id", sa.BigInteger, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("error_kind", sa.String(32), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("first_failed_at", Timestamp, nullable=False),
        sa.Column("last_failed_at", Timestamp, nullable=False),
        sa.Column("next_retry_at", Timestamp),
    )
    op.create_index(f"ix_{PREFIX}monitor_failed_run_retry", f"{PREFIX}monitor_failed_run", ["syncer", "next_retry_at"])
