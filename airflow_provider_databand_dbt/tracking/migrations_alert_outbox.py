"""Revision r0012: the alert outbox, where notifications wait until a channel accepted them.

A new table and its indexes only, so a store of the previous version upgrades with nothing touched.
The table is a frozen copy (``schema_history_r0009_r0012``), unaffected by later edits of ``schema.py``.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from airflow_provider_databand_dbt.tracking.schema_history_r0009_r0012 import alert_outbox_r0012


def upgrade_alert_outbox(conn: Connection) -> None:
    """Create ``dbt_tracking_alert_outbox`` (and its indexes) inside the caller's transaction."""
    alert_outbox_r0012(sa.MetaData()).create(conn, checkfirst=True)
