"""Revision r0010: the request budget per dbt Cloud account, shared by every process tracking into the store.

A new table only, so a store of the previous revision upgrades with nothing touched.
"""

from __future__ import annotations

from sqlalchemy.engine import Connection

from airflow_provider_databand_dbt.tracking import schema


def upgrade_request_budget(conn: Connection) -> None:
    """Create ``dbt_tracking_request_budget`` inside the caller's transaction."""
    schema.request_budgets.create(conn, checkfirst=True)
