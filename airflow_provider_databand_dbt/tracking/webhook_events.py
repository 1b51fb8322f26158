"""The durable queue of dbt Cloud webhook deliveries: the receiver inserts, workers claim, track and finish.

A delivery is acknowledged only after its row is committed, so nothing acknowledged is lost by a crash.
``(syncer, event_id)`` is unique: a redelivery inserts nothing. A worker claims one row at a time
(PostgreSQL ``FOR UPDATE SKIP LOCKED``, SQLite ``BEGIN IMMEDIATE``), so two monitor replicas never handle
one event at once; a claim expires after its TTL, or at once when its owner provably died on this host.
The run is saved and its event marked done in ONE transaction: a crash repeats the work, never the row.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Callable, Optional, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from airflow_provider_databand_dbt.model.report import RunReport
from airflow_provider_databand_dbt.model.source import TrackingSource
from airflow_provider_databand_dbt.tracking import writes
from airflow_provider_databand_dbt.tracking.engine import delete_batch, guarded, upsert_statement
from airflow_provider_databand_dbt.tracking.errors import TrackingError
from airflow_provider_databand_dbt.tracking.rows import SaveOutcome
from airflow_provider_databand_dbt.tracking.schema import webhook_events
from airflow_provider_databand_dbt.tracking.store import TrackingStore

QUEUED = "queued"
CLAIMED = "claimed"
DONE = "done"
FAILED = "failed"
PENDING_STATES = (QUEUED, CLAIMED)
MAX_ERROR = 2000

_c = webhook_events.c
T = TypeVar("T")


class EventClaimLost(TrackingError):
    """Another worker took this event over (our claim expired): our result is dropped, theirs counts."""


@dataclass(frozen=True)
class WebhookEvent:
    """A validated delivery, as the receiver queues it."""

    syncer: str
    event_id: str
    event_type: str
    host: str
    account_id: int
    run_id: int


@dataclass(frozen=True)
class QueuedEvent:
    """A claimed row: what a worker needs to track it."""

    id: int
    syncer: str
    event_id: str
    event_type: str
    host: str
    account_id: int
    run_id: int
    received_at: datetime
    attempts: int


def _now() -> datetime:
    return datetime.now(timezone.utc)


def enqueue(conn: Connection, event: WebhookEvent) -> bool:
    """Insert the event; False when this syncer already has its ``event_id`` (a redelivery: nothing changes)."""
    now = _now()
    stmt = upsert_statement(conn, webhook_events).values(
        syncer=event.syncer,
        event_id=event.event_id,
        event_type=event.event_type,
        host=event.host,
        account_id=event.account_id,
        run_id=event.run_id,
        received_at=now,
        state=QUEUED,
        attempts=0,
        available_at=now,
    )
    stmt = stmt.on_conflict_do_nothing(index_elements=["syncer", "event_id"])
    if conn.dialect.name == "postgresql":
        # psycopg reports rowcount 1 for a conflicting insert here: ask for the inserted key instead.
        return conn.execute(stmt.returning(_c.id)).first() is not None
    return bool(conn.execute(stmt).rowcount)


def _claimable(now: datetime) -> sa.ColumnElement[bool]:
    return ((_c.state == QUEUED) & (_c.available_at <= now)) | ((_c.state == CLAIMED) & (_c.claimed_until <= now))


def claim(conn: Connection, owner: str, ttl_seconds: float, syncers: tuple[str, ...]) -> Optional[QueuedEvent]:
    """Take the oldest due event of these syncers for ``owner``; None when there is none."""
    now = _now()
    query = sa.select(_c.id).where(_claimable(now) & _c.syncer.in_(syncers)).order_by(_c.id).limit(1)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    row_id = conn.execute(query).scalar()
    if row_id is None:
        return None
    result = conn.execute(
        webhook_events.update()
        .where((_c.id == row_id) & _claimable(now))
        .values(state=CLAIMED, claimed_by=owner, claimed_until=now + timedelta(seconds=ttl_seconds))
        .values(attempts=_c.attempts + 1)
    )
    if not result.rowcount:
        return None
    row = conn.execute(sa.select(webhook_events).where(_c.id == row_id)).one()
    return QueuedEvent(
        id=row.id,
        syncer=row.syncer,
        event_id=row.event_id,
        event_type=row.event_type,
        host=row.host,
        account_id=int(row.account_id),
        run_id=int(row.run_id),
        received_at=row.received_at,
        attempts=row.attempts,
    )


def _mine(event_pk: int, owner: str) -> sa.ColumnElement[bool]:
    return (_c.id == event_pk) & (_c.state == CLAIMED) & (_c.claimed_by == owner)


def finish(conn: Connection, event_pk: int, owner: str) -> bool:
    """Mark a claimed event done; False when ``owner`` no longer holds its claim."""
    result = conn.execute(
        webhook_events.update()
        .where(_mine(event_pk, owner))
        .values(state=DONE, processed_at=_now(), claimed_by=None, claimed_until=None, last_error=None)
    )
    return bool(result.rowcount)


def give_back(conn: Connection, event_pk: int, owner: str, error: str, retry_in: Optional[float]) -> bool:
    """Record a failed attempt: queued again after ``retry_in`` seconds, or ``failed`` for good when None."""
    now = _now()
    values: dict = {"claimed_by": None, "claimed_until": None, "last_error": error[:MAX_ERROR]}
    if retry_in is None:
        values.update(state=FAILED, processed_at=now)
    else:
        values.update(state=QUEUED, available_at=now + timedelta(seconds=retry_in))
    return bool(conn.execute(webhook_events.update().where(_mine(event_pk, owner)).values(**values)).rowcount)


def release_dead_claims(conn: Connection, is_dead: Callable[[str], bool]) -> int:
    """Queue again the events claimed by owners ``is_dead`` proves gone (a SIGKILLed monitor); returns how many."""
    owners = conn.execute(sa.select(_c.claimed_by).where(_c.state == CLAIMED).distinct()).scalars().all()
    dead = [owner for owner in owners if owner and is_dead(owner)]
    if not dead:
        return 0
    result = conn.execute(
        webhook_events.update()
        .where((_c.state == CLAIMED) & _c.claimed_by.in_(dead))
        .values(state=QUEUED, claimed_by=None, claimed_until=None, available_at=_now())
    )
    return int(result.rowcount or 0)


def count_by_state(conn: Connection, syncers: Optional[tuple[str, ...]] = None) -> dict[str, int]:
    """Rows per state, for tests and diagnostics (a full scan: not for every request)."""
    query = sa.select(_c.state, sa.func.count()).group_by(_c.state)
    if syncers is not None:
        query = query.where(_c.syncer.in_(syncers))
    return {state: int(count) for state, count in conn.execute(query).all()}


def pending(conn: Connection, syncers: tuple[str, ...]) -> int:
    """Events of these syncers still queued or being handled (read from the state index)."""
    query = sa.select(sa.func.count()).where(_c.state.in_(PENDING_STATES) & _c.syncer.in_(syncers))
    return int(conn.execute(query).scalar() or 0)


def oldest_queued(conn: Connection, syncers: tuple[str, ...]) -> tuple[int, Optional[datetime]]:
    """How many events of these syncers wait for a worker (``queued``), and when the oldest was received."""
    query = sa.select(sa.func.count(), sa.func.min(_c.received_at)).where((_c.state == QUEUED) & _c.syncer.in_(syncers))
    count, oldest = conn.execute(query).one()
    return int(count or 0), oldest


FINISHED_STATES = (DONE, FAILED)


def prune(conn: Connection, older_than: datetime, limit: int) -> int:
    """Delete at most ``limit`` done or failed events that finished before ``older_than``; returns how many.

    Never a queued or claimed event, whatever its age. dbt Cloud stops redelivering within hours, so a
    pruned ``eventId`` is not needed to recognise a redelivery any more.
    """
    finished = _c.state.in_(FINISHED_STATES) & (sa.func.coalesce(_c.processed_at, _c.received_at) < older_than)
    return delete_batch(conn, webhook_events, finished, limit)


class WriteTurns:
    """SQLite: one writer of this process at a time, deliveries first.

    Writers that meet SQLite's lock wait in its busy handler, which sleeps in steps of up to 100 ms:
    a burst of deliveries then sees p99 latencies of several hundred ms. Queued here instead, each
    waits only for the write before it, and a delivery never waits behind more than one worker save.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._busy = False
        self._urgent = 0

    @contextlib.contextmanager
    def turn(self, *, urgent: bool) -> Iterator[None]:
        with self._cond:
            self._urgent += urgent
            try:
                while self._busy or (not urgent and self._urgent):
                    self._cond.wait()
            finally:
                self._urgent -= urgent
            self._busy = True
        try:
            yield
        finally:
            with self._cond:
                self._busy = False
                self._cond.notify_all()


class WebhookQueue:
    """The functions above on a :class:`TrackingStore`, with its retries on a busy database and its errors."""

    def __init__(self, store: TrackingStore) -> None:
        self.store = store
        self.display_url = store.display_url
        # The store's connection: its transact() replays a write that met a locked SQLite file.
        self._db = store._db
        self._turns = WriteTurns() if store.dialect == "sqlite" else None

    def _write(self, work: Callable[[Connection], T], *, urgent: bool = False, durable: bool = False) -> T:
        if self._turns is None:
            return self._db.transact(work, durable=durable)
        with self._turns.turn(urgent=urgent):
            return self._db.transact(work, durable=durable)

    def enqueue(self, event: WebhookEvent) -> bool:
        with guarded(f"queue webhook event {event.event_id}", self.display_url):
            # Durable: the sender is told 200 once this returns and will not deliver the event again.
            return self._write(lambda conn: enqueue(conn, event), urgent=True, durable=True)

    def claim(self, owner: str, ttl_seconds: float, syncers: tuple[str, ...]) -> Optional[QueuedEvent]:
        with guarded("claim a webhook event", self.display_url):
            return self._write(lambda conn: claim(conn, owner, ttl_seconds, syncers))

    def finish(self, event: QueuedEvent, owner: str) -> bool:
        with guarded(f"finish webhook event {event.event_id}", self.display_url):
            return self._write(lambda conn: finish(conn, event.id, owner))

    def give_back(self, event: QueuedEvent, owner: str, error: str, retry_in: Optional[float]) -> bool:
        with guarded(f"record the failure of webhook event {event.event_id}", self.display_url):
            return self._write(lambda conn: give_back(conn, event.id, owner, error, retry_in))

    def release_dead_claims(self, is_dead: Callable[[str], bool]) -> int:
        with guarded("release webhook events of dead monitors", self.display_url):
            return self._write(lambda conn: release_dead_claims(conn, is_dead))

    def pending(self, syncers: tuple[str, ...]) -> int:
        with guarded("count queued webhook events", self.display_url), self._db.read() as conn:
            return pending(conn, syncers)

    def oldest_queued(self, syncers: tuple[str, ...]) -> tuple[int, Optional[datetime]]:
        with guarded("read the webhook queue", self.display_url), self._db.read() as conn:
            return oldest_queued(conn, syncers)

    def counts(self, syncers: Optional[tuple[str, ...]] = None) -> dict[str, int]:
        """Rows per state (``queued``, ``claimed``, ``done``, ``failed``)."""
        with guarded("count webhook events", self.display_url), self._db.read() as conn:
            return count_by_state(conn, syncers)

    def save_and_finish(self, report: RunReport, source: TrackingSource, event: QueuedEvent, owner: str) -> SaveOutcome:
        """Save the run and mark its event done in one transaction (a crash can repeat it, never half of it).

        :raises EventClaimLost: another worker holds the event now; nothing was saved.
        """
        stamped = source.stamped()

        def work(conn: Connection) -> SaveOutcome:
            outcome = writes.save_report(conn, report, stamped)
            if not finish(conn, event.id, owner):
                raise EventClaimLost(f"webhook event {event.event_id} was taken over by another worker")
            return outcome

        with guarded(f"save run {report.run_id} of webhook event {event.event_id}", self.display_url):
            return self._write(work)
