"""Revision r0011: alert incidents and the newest run the alert rules evaluated per pipeline.

Two new tables only, so a store of the previous version upgrades with nothing touched.
"""

from __future__ import annotations

from sqlalchemy.engine import Connection

from airflow_provider_databand_dbt.tracking import schema


def upgrade_alert_incidents(conn: Connection) -> None:
    """Create ``dbt_tracking_alert_incident`` and ``dbt_tracking_alert_evaluation`` inside the caller's transaction."""
    schema.alert_incidents.create(conn, checkfirst=True)
    schema.alert_evaluations.create(conn, checkfirst=True)
