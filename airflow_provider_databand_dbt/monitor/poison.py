"""Runs a syncer cannot track: recorded in the store with the reason, skipped, retried a few times with backoff.

One bad run (a value the store refuses, an answer that never decodes, a bug while collecting it) must
not block every later run of the account: the cursor moves past it and ``/health`` stays green. Errors
of the account or of the store are not the run's fault and still stop the iteration (see ``errors.py``).
"""

from __future__ import annotations

import logging
from typing import Optional

from airflow_provider_databand_dbt.monitor.errors import error_kind
from airflow_provider_databand_dbt.monitor.metrics import MonitorMetrics

log = logging.getLogger(__name__)

# Attempts at one run (the first included) before it is left recorded as failed to track.
MAX_RUN_ATTEMPTS = 3
RETRY_CAP_SECONDS = 3600.0
# Failed runs retried per iteration, so a burst of them cannot turn one iteration into a long one.
RETRY_BATCH = 20


class FailedRunBook:
    """The syncer's failed runs in the store (table ``dbt_tracking_monitor_failed_run``).

    :param interval: the polling interval; retry ``n`` comes ``interval * 2**n`` seconds after failure ``n``.
    """

    def __init__(
        self, store, syncer: str, host: str, account_id: int, interval: float, metrics: MonitorMetrics
    ) -> None:
        self.store = store
        self.syncer = syncer
        self.host = host
        self.account_id = account_id
        self.interval = interval
        self.metrics = metrics

    def retry_delay(self, attempts: int) -> Optional[float]:
        """Seconds until the next attempt after ``attempts`` failures; None: give up."""
        if attempts >= MAX_RUN_ATTEMPTS:
            return None
        return min(RETRY_CAP_SECONDS, self.interval * 2**attempts)

    def record(self, run_id: int, exc: BaseException) -> None:
        """Count a failed attempt at ``run_id`` (the caller then skips the run)."""
        kind = error_kind(exc)
        failed = self.store.record_failed_run(
            self.syncer, self.host, self.account_id, run_id, kind, str(exc), self.retry_delay
        )
        self.metrics.runs_failed.labels(syncer=self.syncer, kind=kind).inc()
        self.metrics.errors.labels(syncer=self.syncer, kind=kind).inc()
        extra = {"syncer": self.syncer, "run_id": run_id, "error_kind": kind, "attempts": failed.attempts}
        if failed.next_retry_at is None:
            self.metrics.runs_given_up.labels(syncer=self.syncer).inc()
            log.warning(
                "syncer %s: giving up on run %s after %d failed attempts (%s: %s); recorded as failed to track",
                self.syncer,
                run_id,
                failed.attempts,
                kind,
                failed.reason,
                extra=extra,
                exc_info=kind == "internal",
            )
            return
        log.warning(
            "syncer %s: skipping run %s for now (%s: %s); attempt %d of %d, next at %s",
            self.syncer,
            run_id,
            kind,
            failed.reason,
            failed.attempts,
            MAX_RUN_ATTEMPTS,
            failed.next_retry_at.isoformat(timespec="seconds"),
            extra=extra,
            exc_info=kind == "internal",
        )

    def due(self) -> list[int]:
        return self.store.due_failed_runs(self.syncer, RETRY_BATCH)

    def clear(self, run_id: int) -> None:
        if self.store.clear_failed_run(self.syncer, run_id):
            log.info(
                "syncer %s: run %s tracked after earlier failures",
                self.syncer,
                run_id,
                extra={"syncer": self.syncer, "run_id": run_id},
            )
