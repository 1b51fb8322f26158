"""The monitor's state in the store: one cursor per syncer, and leases so only one monitor runs a syncer at a time."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Optional

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from airflow_provider_databand_dbt.tracking.engine import upsert_statement
from airflow_provider_databand_dbt.tracking.rows import MonitorCursor
from airflow_provider_databand_dbt.tracking.schema import monitor_cursors, monitor_leases


def get_cursor(conn: Connection, syncer: str) -> Optional[MonitorCursor]:
    row = conn.execute(sa.select(monitor_cursors).where(monitor_cursors.c.syncer == syncer)).first()
    if row is None:
        return None
    values = dict(row._mapping)
    values["active_run_ids"] = [int(run_id) for run_id in values["active_run_ids"] or []]
    values["backfill_done"] = bool(values["backfill_done"])
    return MonitorCursor(**values)


def save_cursor(conn: Connection, cursor: MonitorCursor) -> MonitorCursor:
    """Insert or replace the syncer's cursor; returns it with ``updated_at`` set."""
    now = datetime.now(timezone.utc)
    values = {
        "syncer": cursor.syncer,
        "host": cursor.host,
        "account_id": cursor.account_id,
        "last_run_id": cursor.last_run_id,
        "active_run_ids": [int(run_id) for run_id in cursor.active_run_ids],
        "backfill_done": bool(cursor.backfill_done),
        "updated_at": now,
    }
    stmt = upsert_statement(conn, monitor_cursors).values(**values)
    stmt = stmt.on_conflict_do_update(
        index_elements=["syncer"],
        set_={col: stmt.excluded[col] for col in values if col != "syncer"},
    )
    conn.execute(stmt)
    return MonitorCursor(**values)


def try_acquire_lease(conn: Connection, syncer: str, owner: str, ttl_seconds: float) -> bool:
    """Take the syncer's lease if it is free or expired, or renew it if ``owner`` already holds it.

    The decision is one ``INSERT ... ON CONFLICT DO UPDATE ... WHERE`` so two monitors racing for
    the same lease cannot both win. Expiry uses the callers' clocks: keep hosts in NTP sync.
    """
    now = datetime.now(timezone.utc)
    stmt = upsert_statement(conn, monitor_leases).values(
        syncer=syncer, owner=owner, expires_at=now + timedelta(seconds=ttl_seconds)
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["syncer"],
        set_={"owner": stmt.excluded.owner, "expires_at": stmt.excluded.expires_at},
        where=(monitor_leases.c.owner == stmt.excluded.owner) | (monitor_leases.c.expires_at <= now),
    )
    conn.execute(stmt)
    holder = conn.execute(sa.select(monitor_leases.c.owner).where(monitor_leases.c.syncer == syncer)).scalar()
    return holder == owner


def lease_holder(conn: Connection, syncer: str) -> Optional[str]:
    """The owner recorded on the syncer's lease (expired or not), or None when nobody holds it."""
    return conn.execute(sa.select(monitor_leases.c.owner).where(monitor_leases.c.syncer == syncer)).scalar()


def take_over_lease(conn: Connection, syncer: str, dead_owner: str, owner: str, ttl_seconds: float) -> bool:
    """Replace ``dead_owner`` by ``owner`` on the lease; False when the lease changed hands meanwhile.

    Only for a holder proved dead by the caller: the ``WHERE owner =`` makes two successors racing
    for the same dead lease end with one winner.
    """
    now = datetime.now(timezone.utc)
    result = conn.execute(
        monitor_leases.update()
        .where((monitor_leases.c.syncer == syncer) & (monitor_leases.c.owner == dead_owner))
        .values(owner=owner, expires_at=now + timedelta(seconds=ttl_seconds))
    )
    return bool(result.rowcount)


def release_lease(conn: Connection, syncer: str, owner: str) -> bool:
    """Give the lease up; a no-op (False) when someone else holds it now."""
    result = conn.execute(
        monitor_leases.delete().where((monitor_leases.c.syncer == syncer) & (monitor_leases.c.owner == owner))
    )
    return bool(result.rowcount)
