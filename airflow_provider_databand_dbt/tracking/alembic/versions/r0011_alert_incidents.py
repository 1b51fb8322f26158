"""Alert incidents (one open per rule, pipeline and node) and the newest run evaluated per pipeline.

Revision ID: r0011
Revises: r0010
"""

from __future__ import annotations

from alembic import op

from airflow_provider_databand_dbt.tracking.migrations_alert_incidents import upgrade_alert_incidents

revision = "r0011"
down_revision = "r0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    upgrade_alert_incidents(op.get_bind())
