"""Revision r0010: the request budget per dbt Cloud account, shared by every process tracking into the store.

A new table only, so a store of the previous revision upgrades with nothing touched.
The table is a frozen copy (``schema_history_r0009_r0012``), unaffected by later edits of ``schema.py``.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from airflow_provider_databand_dbt.tracking.schema_history_r0009_r0012 import request_budgets_r0010


def upgrade_request_budget(conn: Connection) -> None:
    """Create ``dbt_tracking_request_budget`` inside the caller's transaction."""
    request_budgets_r0010(sa.MetaData()).create(conn, checkfirst=True)
