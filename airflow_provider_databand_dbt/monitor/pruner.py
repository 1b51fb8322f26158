"""The monitor's retention: forget sent/failed alert notifications and finished webhook events, hourly.

The monitor is the one long-lived process of a store, so it keeps the two queues from growing forever:
once at start, then at most once an hour, on its own thread (a large first pass never delays polling).
Several monitors on one store may each prune: deleting a row twice is harmless.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta, timezone
from typing import Any

from airflow_provider_databand_dbt.monitor.errors import describe
from airflow_provider_databand_dbt.tracking.retention import DEFAULT_BATCH_SIZE, prune_finished

log = logging.getLogger(__name__)

PRUNE_EVERY_SECONDS = 3600.0


class RetentionWorker:
    """Prunes rows finished more than ``retention_days`` ago: now, then every hour, until ``stop`` is set.

    :param store: the monitor's ``TrackingStore``.
    :param metrics: the monitor's ``MonitorMetrics`` (``databand_dbt_rows_pruned_total{table}``).
    """

    def __init__(
        self,
        store: Any,
        retention_days: int,
        stop: threading.Event,
        metrics: Any,
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
    ) -> None:
        self.store = store
        self.retention = timedelta(days=retention_days)
        self.retention_days = retention_days
        self.stop = stop
        self.metrics = metrics
        self.batch_size = batch_size
        self.thread = threading.Thread(target=self.loop, name="retention", daemon=True)

    def start(self) -> RetentionWorker:
        self.thread.start()
        return self

    def loop(self) -> None:
        while True:
            self.prune_once()
            if self.stop.wait(PRUNE_EVERY_SECONDS):
                return

    def prune_once(self) -> None:
        """One pass; never raises (a failure is logged and the next pass, an hour later, tries again)."""
        cutoff = datetime.now(timezone.utc) - self.retention
        try:
            pruned = prune_finished(
                self.store, cutoff, batch_size=self.batch_size, stop=self.stop, on_batch=self._count
            )
        except Exception as exc:  # the store may be down: retention can wait an hour
            log.warning("retention: could not prune finished rows (%s); trying again in an hour", describe(exc))
            return
        log.info(
            "retention: pruned %s finished more than %d days ago",
            ", ".join(f"{rows} rows of {table}" for table, rows in pruned.rows.items()),
            self.retention_days,
        )

    def _count(self, table: str, rows: int) -> None:
        self.metrics.rows_pruned.labels(table=table).inc(rows)

    def join(self, timeout: float) -> None:
        if self.thread.ident is not None:
            self.thread.join(timeout)
