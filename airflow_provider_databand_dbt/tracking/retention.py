"""Forget finished queue rows after a retention: sent/failed alert notifications, done/failed webhook events.

Both queues keep their finished rows (the outbox to show what was sent, the webhook queue to recognise a
redelivery), so without pruning they grow forever. Rows go in batches of ``batch_size``, one short
transaction each, so a large backlog never holds a long lock on the table that deliveries write to.
Rows still waiting or being handled are never deleted, whatever their age.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Optional

from sqlalchemy.engine import Connection

from airflow_provider_databand_dbt.tracking import alert_outbox, webhook_events
from airflow_provider_databand_dbt.tracking.schema import alert_outbox as outbox_table
from airflow_provider_databand_dbt.tracking.schema import webhook_events as events_table
from airflow_provider_databand_dbt.tracking.store import TrackingStore

DEFAULT_BATCH_SIZE = 5000
# Between two batches other writers (webhook deliveries on SQLite) get the database.
BATCH_PAUSE_SECONDS = 0.05

PruneBatch = Callable[[Connection, datetime, int], int]
# Table name -> its batch deletion: the metric label and the log line use the table's own name.
PRUNABLE: dict[str, PruneBatch] = {
    outbox_table.name: alert_outbox.prune,
    events_table.name: webhook_events.prune,
}


@dataclass(frozen=True)
class Pruned:
    """Rows deleted by one pass, per table (every table of :data:`PRUNABLE`, 0 when none)."""

    rows: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.rows.values())


def prune_finished(
    store: TrackingStore,
    older_than: datetime,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    stop: Optional[threading.Event] = None,
    pause: float = BATCH_PAUSE_SECONDS,
    on_batch: Optional[Callable[[str, int], None]] = None,
) -> Pruned:
    """Delete every finished row of :data:`PRUNABLE` that finished before ``older_than``, batch by batch.

    :param stop: set to end early: the batch under way and one more per table at most are still done.
    :param on_batch: called with (table, rows) after each committed batch (the monitor's counter).
    :raises TrackingError: the store failed; batches already committed stay deleted.
    """
    rows = dict.fromkeys(PRUNABLE, 0)
    for table, prune_batch in PRUNABLE.items():
        while True:
            deleted = store.transact(f"prune finished rows of {table}", _batch(prune_batch, older_than, batch_size))
            rows[table] += deleted
            if on_batch is not None and deleted:
                on_batch(table, deleted)
            if deleted < batch_size or (stop is not None and stop.is_set()):
                break
            if stop is not None:
                stop.wait(pause)
            else:
                time.sleep(pause)
    return Pruned(rows)


def _batch(prune_batch: PruneBatch, older_than: datetime, limit: int) -> Callable[[Connection], int]:
    return lambda conn: prune_batch(conn, older_than, limit)
