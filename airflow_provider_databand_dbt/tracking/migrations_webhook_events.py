"""Revision r0009: the durable queue of dbt Cloud webhook deliveries (``dbt_tracking_webhook_event``).

A new table and its index only, so a store of the previous revision upgrades with nothing touched.
"""

from __future__ import annotations

from sqlalchemy.engine import Connection

from airflow_provider_databand_dbt.tracking import schema


def upgrade_webhook_events(conn: Connection) -> None:
    """Create ``dbt_tracking_webhook_event`` (and its index) inside the caller's transaction."""
    schema.webhook_events.create(conn, checkfirst=True)
