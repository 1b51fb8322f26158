"""The alert outbox: notifications queued with the incident change, sent and retried by the delivery.

Revision ID: r0012
Revises: r0011
"""

from __future__ import annotations

from alembic import op

from airflow_provider_databand_dbt.tracking.migrations_alert_outbox import upgrade_alert_outbox

revision = "r0012"
down_revision = "r0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    upgrade_alert_outbox(op.get_bind())
