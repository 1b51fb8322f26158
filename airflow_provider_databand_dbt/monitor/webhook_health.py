"""The ``webhooks`` part of ``/health``: is the webhook queue being drained?

Events wait in the store's queue until a worker tracks them. When the oldest one has waited longer than
``10 x interval`` (at least 10 minutes) the workers are stuck or far behind, and the monitor is unhealthy.
The queue is read from the store (not from the workers, which may be the stuck part), at most once a
second however often ``/health`` is probed.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timezone
from typing import Any, Callable, Optional

from airflow_provider_databand_dbt.monitor.errors import describe
from airflow_provider_databand_dbt.tracking.webhook_events import WebhookQueue

STALE_INTERVALS = 10
MIN_STALE_SECONDS = 600.0
READ_EVERY_SECONDS = 1.0


def stale_limit(interval: float) -> float:
    """Seconds the oldest queued event may wait before the monitor is unhealthy."""
    return max(STALE_INTERVALS * interval, MIN_STALE_SECONDS)


class WebhookHealth:
    """``(healthy, body, reason)`` of the webhook side, for :meth:`HealthBoard.add_section`.

    :param port: the port the receiver listens on.
    :param processed: how many events this process finished (done, or failed for good) so far.
    """

    def __init__(
        self,
        queue: WebhookQueue,
        syncers: tuple[str, ...],
        port: int,
        interval: float,
        processed: Callable[[], int],
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.queue = queue
        self.syncers = syncers
        self.port = port
        self.limit = stale_limit(interval)
        self.processed = processed
        self._clock = clock
        self._lock = threading.Lock()
        self._read_at: Optional[float] = None
        self._queued: tuple[int, Optional[datetime]] = (0, None)
        self._error: Optional[str] = None

    def _read(self) -> None:
        now = self._clock()
        with self._lock:
            if self._read_at is not None and now - self._read_at < READ_EVERY_SECONDS:
                return
            self._read_at = now
            try:
                self._queued = self.queue.oldest_queued(self.syncers)
                self._error = None
            except Exception as exc:  # the store is down: the syncers' own health says so
                self._error = describe(exc)

    def __call__(self) -> tuple[bool, dict[str, Any], Optional[str]]:
        self._read()
        depth, oldest = self._queued
        age = None if oldest is None else max(0.0, (datetime.now(timezone.utc) - oldest).total_seconds())
        healthy = age is None or age <= self.limit
        body: dict[str, Any] = {
            "healthy": healthy,
            "port": self.port,
            "queue_depth": depth,
            "oldest_queued_seconds": None if age is None else round(age, 3),
            "limit_seconds": self.limit,
            "processed": self.processed(),
        }
        if self._error:
            body["error"] = self._error
        reason = None if healthy else f"webhooks: oldest queued event waits {age:.1f} s (limit {self.limit:g} s)"
        return healthy, body, reason
