"""The alert outbox's rows: queued once per (notification, channel), claimed before sending, then sent or failed.

A row's life: ``pending`` (due at ``next_attempt_at``) -> ``sending`` (claimed by one process until
``next_attempt_at``, the end of its lease) -> ``sent``, or back to ``pending`` with a later
``next_attempt_at`` after a failed attempt, or ``failed`` once it gave up. A ``sending`` row whose lease
ended was claimed by a process that died: it is due again. Each claim is one conditional ``UPDATE``, so two
processes never both win a row (PostgreSQL re-checks the condition on the row it waited for; SQLite
has one writer at a time). Times come from the callers' clocks, as for the monitor's leases.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, Literal, Optional, cast

import msgspec
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from airflow_provider_databand_dbt.tracking.engine import delete_batch, upsert_statement
from airflow_provider_databand_dbt.tracking.schema import alert_outbox

OutboxState = Literal["pending", "sending", "sent", "failed"]
OUTBOX_STATES: tuple[OutboxState, ...] = ("pending", "sending", "sent", "failed")
_DUE_STATES = ("pending", "sending")
FINISHED_STATES = ("sent", "failed")
# last_error is one short line.
MAX_ERROR = 300


class OutboxRow(msgspec.Struct, kw_only=True):
    """One notification for one channel, as stored."""

    id: int
    notification_key: str
    channel: str
    incident_id: Optional[int]
    payload: str
    state: OutboxState
    attempts: int
    next_attempt_at: datetime
    claimed_by: Optional[str] = None
    last_error: Optional[str] = None
    created_at: datetime
    sent_at: Optional[datetime] = None


class NewOutboxRow(msgspec.Struct, frozen=True, kw_only=True):
    """What :func:`insert_new` queues: the notification (JSON) for one channel."""

    notification_key: str
    channel: str
    incident_id: Optional[int]
    payload: str


def insert_new(conn: Connection, rows: Iterable[NewOutboxRow], now: datetime) -> int:
    """Queue each row unless its (notification key, channel) is already queued; returns how many were new."""
    added = 0
    for row in rows:
        stmt = upsert_statement(conn, alert_outbox).values(
            notification_key=row.notification_key,
            channel=row.channel,
            incident_id=row.incident_id,
            payload=row.payload,
            state="pending",
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
        stmt = stmt.on_conflict_do_nothing(index_elements=["notification_key", "channel"])
        if conn.dialect.name == "postgresql":  # psycopg reports no rowcount for this INSERT: count what it returns
            added += len(conn.execute(stmt.returning(alert_outbox.c.id)).fetchall())
        else:
            added += max(conn.execute(stmt).rowcount or 0, 0)
    return added


def channels_told(conn: Connection, incident_id: int) -> set[str]:
    """The channels that were queued a notification of this incident (where its resolution goes)."""
    query = sa.select(alert_outbox.c.channel).where(alert_outbox.c.incident_id == incident_id).distinct()
    return set(conn.execute(query).scalars())


def due_ids(conn: Connection, channels: Sequence[str], now: datetime, limit: int) -> list[int]:
    """Rows of these channels whose attempt is due (or whose claim expired), oldest due first."""
    if not channels:
        return []
    query = (
        sa.select(alert_outbox.c.id)
        .where(
            alert_outbox.c.state.in_(_DUE_STATES),
            alert_outbox.c.next_attempt_at <= now,
            alert_outbox.c.channel.in_(list(channels)),
        )
        .order_by(alert_outbox.c.next_attempt_at, alert_outbox.c.id)
        .limit(limit)
    )
    return list(conn.execute(query).scalars())


def claim(conn: Connection, row_id: int, owner: str, now: datetime, lease_until: datetime) -> Optional[OutboxRow]:
    """Take a due row for ``owner`` until ``lease_until`` and count the attempt; None when it is not due any more."""
    result = conn.execute(
        sa.update(alert_outbox)
        .where(
            alert_outbox.c.id == row_id,
            alert_outbox.c.state.in_(_DUE_STATES),
            alert_outbox.c.next_attempt_at <= now,
        )
        .values(
            state="sending",
            claimed_by=owner,
            next_attempt_at=lease_until,
            attempts=alert_outbox.c.attempts + 1,
        )
    )
    if result.rowcount != 1:
        return None
    return _row(conn.execute(sa.select(alert_outbox).where(alert_outbox.c.id == row_id)).one()._mapping)


def mark_sent(conn: Connection, row_id: int, owner: str, now: datetime) -> bool:
    """The channel accepted the row; False when ``owner`` lost its claim meanwhile (the lease ended)."""
    return _finish(conn, row_id, owner, state="sent", sent_at=now, claimed_by=None, last_error=None)


def mark_attempt_failed(
    conn: Connection, row_id: int, owner: str, error: str, next_attempt_at: Optional[datetime]
) -> bool:
    """Record a failed attempt: due again at ``next_attempt_at``, or ``failed`` for good when it is None."""
    values: dict[str, Any] = {"claimed_by": None, "last_error": one_line(error)}
    if next_attempt_at is None:
        values["state"] = "failed"
    else:
        values.update(state="pending", next_attempt_at=next_attempt_at)
    return _finish(conn, row_id, owner, **values)


def _finish(conn: Connection, row_id: int, owner: str, **values: Any) -> bool:
    result = conn.execute(
        sa.update(alert_outbox)
        .where(alert_outbox.c.id == row_id, alert_outbox.c.state == "sending", alert_outbox.c.claimed_by == owner)
        .values(**values)
    )
    return result.rowcount == 1


def list_rows(conn: Connection, *, state: Optional[str] = None, limit: int = 50) -> list[OutboxRow]:
    """Rows newest first, optionally of one state."""
    query = sa.select(alert_outbox).order_by(alert_outbox.c.created_at.desc(), alert_outbox.c.id.desc()).limit(limit)
    if state is not None:
        query = query.where(alert_outbox.c.state == state)
    return [_row(row._mapping) for row in conn.execute(query)]


def count_by_state(conn: Connection) -> dict[str, int]:
    """How many rows are in each state (every state present, 0 when none)."""
    counts: dict[str, int] = dict.fromkeys(OUTBOX_STATES, 0)
    query = sa.select(alert_outbox.c.state, sa.func.count()).group_by(alert_outbox.c.state)
    for state, count in conn.execute(query):
        counts[state] = int(count)
    return counts


def prune(conn: Connection, older_than: datetime, limit: int) -> int:
    """Delete at most ``limit`` sent or failed rows that finished before ``older_than``; returns how many.

    A sent row finished at ``sent_at``; a failed one has no finish time of its own, so the end of its last
    attempt's lease (``next_attempt_at``, a little after the attempt) stands for it. Pending and sending rows
    are never deleted, whatever their age.
    """
    c = alert_outbox.c
    finished = c.state.in_(FINISHED_STATES) & (sa.func.coalesce(c.sent_at, c.next_attempt_at) < older_than)
    return delete_batch(conn, alert_outbox, finished, limit)


def one_line(text: str) -> str:
    """``text`` as one line of at most :data:`MAX_ERROR` characters."""
    line = " ".join(str(text).split())
    return line if len(line) <= MAX_ERROR else line[: MAX_ERROR - 3] + "..."


def _row(mapping: Any) -> OutboxRow:
    values = dict(mapping)
    values["state"] = cast(OutboxState, values["state"])
    return OutboxRow(**values)
