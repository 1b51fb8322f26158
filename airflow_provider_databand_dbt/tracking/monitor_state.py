"""The monitor's state in the store: one cursor per syncer, leases so only one monitor runs a syncer at a
time, and the runs a syncer failed to track (skipped, retried with backoff)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Optional

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from airflow_provider_databand_dbt.tracking.engine import upsert_statement
from airflow_provider_databand_dbt.tracking.rows import MonitorCursor
from airflow_provider_databand_dbt.tracking.schema import monitor_cursors, monitor_failed_runs, monitor_leases

# Stored reasons are one line of at most this many characters.
MAX_REASON = 2000


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
    values: dict[str, Any] = {
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


@dataclass(frozen=True)
class FailedRun:
    """A run a syncer could not collect or store: how often, why, and when it is tried again (None: gave up)."""

    syncer: str
    run_id: int
    host: str
    account_id: int
    attempts: int
    error_kind: str
    reason: str
    first_failed_at: datetime
    last_failed_at: datetime
    next_retry_at: Optional[datetime]


def _one_line(reason: str) -> str:
    """Printable, storable on any backend (no lone surrogates, no NUL), one line, bounded."""
    text = reason.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\x00")
    return " ".join(text.split())[:MAX_REASON]


def record_failed_run(
    conn: Connection,
    syncer: str,
    host: str,
    account_id: int,
    run_id: int,
    kind: str,
    reason: str,
    retry_delay: Callable[[int], Optional[float]],
) -> FailedRun:
    """Count one more failed attempt at a run; ``retry_delay(attempts)`` says when to retry (None: give up)."""
    now = datetime.now(timezone.utc)
    key = (monitor_failed_runs.c.syncer == syncer) & (monitor_failed_runs.c.run_id == run_id)
    previous = conn.execute(sa.select(monitor_failed_runs).where(key)).first()
    attempts = 1 + (previous.attempts if previous is not None else 0)
    delay = retry_delay(attempts)
    failed = FailedRun(
        syncer=syncer,
        run_id=run_id,
        host=host,
        account_id=account_id,
        attempts=attempts,
        error_kind=kind[:32],
        reason=_one_line(reason),
        first_failed_at=now if previous is None else previous.first_failed_at,
        last_failed_at=now,
        next_retry_at=None if delay is None else now + timedelta(seconds=delay),
    )
    values = asdict(failed)
    # An upsert: two monitors without a lease may record the same run at once.
    stmt = upsert_statement(conn, monitor_failed_runs).values(**values)
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=["syncer", "run_id"],
            set_={col: stmt.excluded[col] for col in values if col not in ("syncer", "run_id", "first_failed_at")},
        )
    )
    return failed


def due_failed_runs(conn: Connection, syncer: str, limit: int) -> list[int]:
    """Run ids of the syncer whose retry time has come, oldest run first."""
    now = datetime.now(timezone.utc)
    query = (
        sa.select(monitor_failed_runs.c.run_id)
        .where((monitor_failed_runs.c.syncer == syncer) & (monitor_failed_runs.c.next_retry_at <= now))
        .order_by(monitor_failed_runs.c.run_id)
        .limit(limit)
    )
    return [int(run_id) for run_id in conn.execute(query).scalars()]


def clear_failed_run(conn: Connection, syncer: str, run_id: int) -> bool:
    """Forget a failed run (it was tracked after all); False when it was not recorded."""
    result = conn.execute(
        monitor_failed_runs.delete().where(
            (monitor_failed_runs.c.syncer == syncer) & (monitor_failed_runs.c.run_id == run_id)
        )
    )
    return bool(result.rowcount)


def list_failed_runs(conn: Connection, syncer: Optional[str] = None) -> list[FailedRun]:
    """Every recorded failed run (of one syncer), newest failure first."""
    query = sa.select(monitor_failed_runs).order_by(monitor_failed_runs.c.last_failed_at.desc())
    if syncer is not None:
        query = query.where(monitor_failed_runs.c.syncer == syncer)
    return [FailedRun(**row._mapping) for row in conn.execute(query)]
