"""Which dbt Cloud run each Airflow task instance try triggered, and whether that try ended.

The operator writes a row before it triggers (token known, run id not yet), fills in the run id
before it waits, and ends the row when the try ends normally. A row left open means the try died
(SIGKILL, eviction, lost worker): the next try reads it to reattach instead of triggering again.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime, timezone

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from airflow_provider_databand_dbt.tracking.engine import guarded
from airflow_provider_databand_dbt.tracking.schema import task_triggers
from airflow_provider_databand_dbt.tracking.store import TrackingStore


@dataclass(frozen=True)
class TaskInstanceKey:
    """One Airflow task instance: what stays the same across its tries."""

    dag_id: str
    task_id: str
    airflow_run_id: str
    map_index: int

    def where(self) -> sa.ColumnElement[bool]:
        c = task_triggers.c
        return (
            (c.dag_id == self.dag_id)
            & (c.task_id == self.task_id)
            & (c.airflow_run_id == self.airflow_run_id)
            & (c.map_index == self.map_index)
        )


@dataclass(frozen=True)
class TaskTrigger:
    """One try's row. ``dbt_run_id`` is None while the trigger POST had no answer; ``ended_at`` None
    while the try runs, or forever when it died."""

    id: int
    try_number: int
    host: str
    account_id: int
    job_id: int
    token: str
    dbt_run_id: int | None
    triggered_by_try: int
    started_at: datetime
    ended_at: datetime | None
    outcome: str | None

    @property
    def ended(self) -> bool:
        return self.ended_at is not None


def _trigger_columns() -> list[sa.Column]:
    """The columns a ``TaskTrigger`` is read from, named by its fields (one list for every reader)."""
    return [task_triggers.c[f.name] for f in dataclasses.fields(TaskTrigger)]


def last_trigger(conn: Connection, key: TaskInstanceKey) -> TaskTrigger | None:
    """The latest row of the task instance, or None when no try of it triggered anything."""
    latest_first = task_triggers.c.id.desc()
    row = conn.execute(sa.select(*_trigger_columns()).where(key.where()).order_by(latest_first).limit(1)).first()
    return TaskTrigger(**row._asdict()) if row is not None else None


def begin_trigger(
    conn: Connection,
    key: TaskInstanceKey,
    *,
    try_number: int,
    host: str,
    account_id: int,
    job_id: int,
    token: str,
    dbt_run_id: int | None = None,
    triggered_by_try: int | None = None,
) -> int:
    """Add this try's row; returns its id."""
    result = conn.execute(
        task_triggers.insert().values(
            dag_id=key.dag_id,
            task_id=key.task_id,
            airflow_run_id=key.airflow_run_id,
            map_index=key.map_index,
            try_number=try_number,
            host=host,
            account_id=account_id,
            job_id=job_id,
            token=token,
            dbt_run_id=dbt_run_id,
            triggered_by_try=try_number if triggered_by_try is None else triggered_by_try,
            started_at=datetime.now(timezone.utc),
        )
    )
    key_values = result.inserted_primary_key
    assert key_values is not None  # an INSERT of one row always has its key
    return int(key_values[0])


def set_run_id(conn: Connection, row_id: int, dbt_run_id: int) -> None:
    conn.execute(task_triggers.update().where(task_triggers.c.id == row_id).values(dbt_run_id=dbt_run_id))


def end_open_triggers(conn: Connection, key: TaskInstanceKey, outcome: str) -> int:
    """End every open row of the task instance (this try's, and any a dead try left); returns how many."""
    c = task_triggers.c
    result = conn.execute(
        task_triggers.update()
        .where(key.where() & c.ended_at.is_(None))
        .values(
            ended_at=datetime.now(timezone.utc),
            outcome=outcome[:32],
        )
    )
    return int(result.rowcount or 0)


def list_triggers(conn: Connection, key: TaskInstanceKey) -> list[TaskTrigger]:
    """Every row of the task instance, oldest first (for ``show``-style readers and tests)."""
    rows = conn.execute(sa.select(*_trigger_columns()).where(key.where()).order_by(task_triggers.c.id)).all()
    return [TaskTrigger(**row._asdict()) for row in rows]


class TaskTriggerLedger:
    """The functions above on a :class:`TrackingStore`, with its retries on a busy database and its errors."""

    def __init__(self, store: TrackingStore) -> None:
        self.store = store
        # The store's connection: its transact() replays a write that met a locked SQLite file.
        self._db = store._db

    def last(self, key: TaskInstanceKey) -> TaskTrigger | None:
        with guarded("read the task's dbt Cloud runs", self.store.display_url), self._db.read() as conn:
            return last_trigger(conn, key)

    def all(self, key: TaskInstanceKey) -> list[TaskTrigger]:
        with guarded("read the task's dbt Cloud runs", self.store.display_url), self._db.read() as conn:
            return list_triggers(conn, key)

    def begin(self, key: TaskInstanceKey, **values) -> int:
        with guarded("record the task's dbt Cloud run", self.store.display_url):
            return self._db.transact(lambda conn: begin_trigger(conn, key, **values))

    def set_run_id(self, row_id: int, dbt_run_id: int) -> None:
        with guarded(f"record dbt Cloud run {dbt_run_id}", self.store.display_url):
            self._db.transact(lambda conn: set_run_id(conn, row_id, dbt_run_id))

    def end(self, key: TaskInstanceKey, outcome: str) -> int:
        with guarded("record the end of the task's try", self.store.display_url):
            return self._db.transact(lambda conn: end_open_triggers(conn, key, outcome))
