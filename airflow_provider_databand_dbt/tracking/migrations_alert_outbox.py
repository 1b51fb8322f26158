"""Revision r0012: the alert outbox, where notifications wait until a channel accepted them.

A new table and its indexes only, so a store of the previous version upgrades with nothing touched.
"""

from __future__ import annotations

from sqlalchemy.engine import Connection

from airflow_provider_databand_dbt.tracking import schema


def upgrade_alert_outbox(conn: Connection) -> None:
    """Create ``dbt_tracking_alert_outbox`` (and its indexes) inside the caller's transaction."""
    schema.alert_outbox.create(conn, checkfirst=True)
