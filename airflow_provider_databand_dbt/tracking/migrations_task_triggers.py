"""Revision r0005: the table of dbt Cloud runs triggered per Airflow task instance try.

A new table and its index only, so a store of the previous version upgrades with nothing touched.
"""

from __future__ import annotations

from sqlalchemy.engine import Connection

from airflow_provider_databand_dbt.tracking import schema


def upgrade_task_triggers(conn: Connection) -> None:
    """Create ``dbt_tracking_task_trigger`` (and its index) inside the caller's transaction."""
    schema.task_triggers.create(conn, checkfirst=True)
