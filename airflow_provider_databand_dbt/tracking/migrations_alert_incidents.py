"""Revision r0011: alert incidents and the newest run the alert rules evaluated per pipeline.

Two new tables only, so a store of the previous version upgrades with nothing touched.
The tables are frozen copies (``schema_history_r0009_r0012``), unaffected by later edits of ``schema.py``.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from airflow_provider_databand_dbt.tracking.schema_history_r0009_r0012 import alert_tables_r0011


def upgrade_alert_incidents(conn: Connection) -> None:
    """Create ``dbt_tracking_alert_incident`` and ``dbt_tracking_alert_evaluation`` inside the caller's transaction."""
    for table in alert_tables_r0011(sa.MetaData()):  # not the stand-ins of pipeline and node
        table.create(conn, checkfirst=True)
