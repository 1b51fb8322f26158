"""Revision r0005: the table of dbt Cloud runs triggered per Airflow task instance try.

A new table and its index only, so a store of the previous version upgrades with nothing touched. The table
is the frozen copy of ``schema_history``, so later changes to ``schema.py`` leave this revision as it was.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from airflow_provider_databand_dbt.tracking.schema_history import task_triggers_r0005


def upgrade_task_triggers(conn: Connection) -> None:
    """Create ``dbt_tracking_task_trigger`` (and its index) inside the caller's transaction."""
    task_triggers_r0005(sa.MetaData()).create(conn, checkfirst=True)
