"""The durable queue of dbt Cloud webhook deliveries, filled by the monitor's receiver.

Revision ID: r0009
Revises: r0008
"""

from __future__ import annotations

from alembic import op

from airflow_provider_databand_dbt.tracking.migrations_webhook_events import upgrade_webhook_events

revision = "r0009"
down_revision = "r0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    upgrade_webhook_events(op.get_bind())
