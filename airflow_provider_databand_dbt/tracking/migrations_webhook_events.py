"""Revision r0009: the durable queue of dbt Cloud webhook deliveries (``dbt_tracking_webhook_event``).

A new table and its index only, so a store of the previous revision upgrades with nothing touched.
The table is a frozen copy (``schema_history_r0009_r0012``), unaffected by later edits of ``schema.py``.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from airflow_provider_databand_dbt.tracking.schema_history_r0009_r0012 import webhook_events_r0009


def upgrade_webhook_events(conn: Connection) -> None:
    """Create ``dbt_tracking_webhook_event`` (and its index) inside the caller's transaction."""
    webhook_events_r0009(sa.MetaData()).create(conn, checkfirst=True)
