"""Drain the webhook queue: claim one event at a time, track its run, mark it done in the same transaction.

- ``job.run.started``: one GET of the run, recorded as it is now without artifacts (a run already
  finished by then is collected in full instead).
- ``job.run.completed``: collected with its artifacts.
- ``job.run.errored``: collected at once (artifacts may not exist yet); the ``completed`` that follows
  is another event and collects it again.

Tracking goes through the tracking service with ``TrackingSource(kind="webhook", name=<syncer>)`` and
the syncer's own client (its rate limit and retries). A failure gives the event back with a backoff;
after :data:`MAX_ATTEMPTS` it is ``failed`` for good (polling still reconciles the run). On start, events
claimed by a monitor that provably died on this host are queued again at once; others wait for the
claim to expire.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any, Callable, Optional

from airflow_provider_databand_dbt.collector.collect import collect_run
from airflow_provider_databand_dbt.collector.snapshot import fetch_run, snapshot_report
from airflow_provider_databand_dbt.model.report import RunReport
from airflow_provider_databand_dbt.model.source import TrackingSource
from airflow_provider_databand_dbt.model.status import TERMINAL_LABELS
from airflow_provider_databand_dbt.monitor.config import SyncerConfig
from airflow_provider_databand_dbt.monitor.errors import describe, retry_after
from airflow_provider_databand_dbt.monitor.owner import holder_is_dead
from airflow_provider_databand_dbt.monitor.webhook_metrics import WebhookMetrics
from airflow_provider_databand_dbt.monitor.webhook_payload import STARTED
from airflow_provider_databand_dbt.sinks.protocols import Sink
from airflow_provider_databand_dbt.sinks.service import SinkFailed, TrackingService
from airflow_provider_databand_dbt.tracking.rows import SaveOutcome
from airflow_provider_databand_dbt.tracking.webhook_events import EventClaimLost, QueuedEvent, WebhookQueue

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
RETRY_BASE_SECONDS = 5.0
RETRY_MAX_SECONDS = 300.0
# A claim outlives the longest collection (collect_deadline) by this much before another worker may take it.
CLAIM_MARGIN_SECONDS = 60.0
HOUSEKEEPING_SECONDS = 1.0


class _EventStore:
    """The store as the tracking service sees it for one event: saving the run also marks the event done."""

    def __init__(self, queue: WebhookQueue, event: QueuedEvent, owner: str) -> None:
        self.queue = queue
        self.event = event
        self.owner = owner
        self.display_url = queue.display_url

    def save_report(self, report: RunReport, source: Optional[TrackingSource] = None) -> SaveOutcome:
        return self.queue.save_and_finish(report, source or TrackingSource(kind="webhook"), self.event, self.owner)

    def close(self) -> None:
        """The monitor owns the store."""


class WebhookWorker:
    """Threads that track queued webhook events of this monitor's syncers.

    :param clients: syncer name -> its dbt Cloud client.
    :param wake: set by the receiver when it queued an event, so the worker does not wait for its poll.
    :param threads: events handled side by side.
    :param poll_seconds: how often the queue is looked at without a wake-up (events of other replicas, retries).
    """

    def __init__(
        self,
        queue: WebhookQueue,
        syncers: Sequence[SyncerConfig],
        clients: Mapping[str, Any],
        metrics: WebhookMetrics,
        *,
        owner: str,
        stop: threading.Event,
        wake: threading.Event,
        sinks: Sequence[Sink] | None = None,
        on_sink_failure: Callable[[str, str], None] | None = None,
        threads: int = 2,
        poll_seconds: float = 1.0,
        retry_base_seconds: float = RETRY_BASE_SECONDS,
    ) -> None:
        self.queue = queue
        self.syncers = {s.name: s for s in syncers}
        self.names = tuple(self.syncers)
        self.clients = dict(clients)
        self.metrics = metrics
        self.owner = owner
        self.stop = stop
        self.wake = wake
        self.sinks = sinks
        self.on_sink_failure = on_sink_failure
        self.poll_seconds = poll_seconds
        self.retry_base_seconds = retry_base_seconds
        self.claim_seconds = max(s.collect_deadline for s in syncers) + CLAIM_MARGIN_SECONDS
        self._housekeeping_lock = threading.Lock()
        self._processed_lock = threading.Lock()
        self._processed = 0
        self._next_depth = 0.0
        self.threads = [
            threading.Thread(target=self._loop, name=f"webhook-worker-{i}", daemon=True) for i in range(threads)
        ]

    @property
    def processed(self) -> int:
        """Events this process finished: tracked (done), or given up (failed for good)."""
        return self._processed

    def _finished_one(self) -> None:
        with self._processed_lock:
            self._processed += 1

    def start(self) -> WebhookWorker:
        try:
            released = self.queue.release_dead_claims(holder_is_dead)
        except Exception as exc:  # the store may be down at start; claims then expire on their own
            log.warning("webhooks: could not look for events left by a dead monitor: %s", describe(exc))
        else:
            if released:
                log.info("webhooks: %d events claimed by a monitor that died are queued again", released)
        for thread in self.threads:
            thread.start()
        return self

    def join(self, timeout: float) -> None:
        for thread in self.threads:
            if thread.ident is not None:
                thread.join(timeout)

    def _loop(self) -> None:
        while not self.stop.is_set():
            try:
                event = self.queue.claim(self.owner, self.claim_seconds, self.names)
            except Exception as exc:
                log.warning("webhooks: cannot read the queue: %s", describe(exc))
                event = None
            self._housekeeping()
            if event is None:
                self.wake.wait(self.poll_seconds)
                self.wake.clear()
                continue
            self.handle(event)

    def handle(self, event: QueuedEvent) -> None:
        """Track one claimed event; never raises."""
        syncer = event.syncer
        try:
            report = self._report(event)
            store = _EventStore(self.queue, event, self.owner)
            service = TrackingService(store, self.sinks, on_sink_failure=self._sink_failed(syncer))
            outcome = service.record(report, TrackingSource(kind="webhook", name=syncer))
        except EventClaimLost as exc:
            log.warning("webhooks: %s", exc)
            return
        except Exception as exc:
            self._failed(event, exc)
            return
        waited = (datetime.now(timezone.utc) - event.received_at).total_seconds()
        self.metrics.processed.labels(syncer=syncer, outcome="done").inc()
        self._finished_one()
        self.metrics.event_to_tracked.labels(syncer=syncer).observe(max(0.0, waited))
        log.info(
            "webhook %s: tracked run %s (%s, %s) %.2f s after it was received [%s]",
            event.event_type,
            report.run_id,
            report.status,
            getattr(outcome, "action", "stored"),
            waited,
            syncer,
            extra={"syncer": syncer, "run_id": report.run_id, "event_id": event.event_id},
        )

    def _sink_failed(self, syncer: str) -> SinkFailed | None:
        """The service's sink-failure callback for one syncer's events (counted like its polled runs)."""
        report = self.on_sink_failure
        if report is None:
            return None
        return lambda sink, _error: report(syncer, sink)

    def _report(self, event: QueuedEvent) -> RunReport:
        config = self.syncers[event.syncer]
        client = self.clients[event.syncer]
        if event.event_type != STARTED:
            return collect_run(client, event.account_id, event.run_id, deadline=config.collect_deadline)
        with client.deadline(config.collect_deadline, f"reading run {event.run_id}"):
            run = fetch_run(client, event.account_id, event.run_id)
            if run.status_label in TERMINAL_LABELS:  # finished meanwhile: its artifacts are worth the requests
                return collect_run(client, event.account_id, event.run_id, deadline=config.collect_deadline, run=run)
            return snapshot_report(client, event.account_id, run)

    def _failed(self, event: QueuedEvent, exc: BaseException) -> None:
        last = event.attempts >= MAX_ATTEMPTS
        retry_in = None
        if not last:  # doubling from retry_base_seconds, never sooner than a 429's Retry-After
            retry_in = min(RETRY_MAX_SECONDS, self.retry_base_seconds * 2 ** (event.attempts - 1))
            retry_in = max(retry_in, retry_after(exc) or 0.0)
        outcome = "failed" if last else "retry"
        self.metrics.processed.labels(syncer=event.syncer, outcome=outcome).inc()
        if last:
            self._finished_one()
        log.warning(
            "webhook %s %s for run %s failed (attempt %d of %d): %s; %s",
            event.event_type,
            event.event_id,
            event.run_id,
            event.attempts,
            MAX_ATTEMPTS,
            describe(exc),
            "given up (polling still reconciles the run)" if last else f"retrying in {retry_in:g} s",
            extra={"syncer": event.syncer, "run_id": event.run_id, "event_id": event.event_id},
        )
        try:
            self.queue.give_back(event, self.owner, describe(exc), retry_in)
        except Exception as store_exc:  # the claim then expires and another attempt follows
            log.warning("webhooks: could not record the failure of %s: %s", event.event_id, describe(store_exc))

    def _housekeeping(self) -> None:
        """Queue depth at most once a second, one thread at a time (the monitor's retention prunes old events)."""
        now = time.monotonic()
        if now < self._next_depth or not self._housekeeping_lock.acquire(blocking=False):
            return
        try:
            self._next_depth = now + HOUSEKEEPING_SECONDS
            self.metrics.queue_depth.set(self.queue.pending(self.names))
        except Exception as exc:
            log.debug("webhooks: housekeeping failed: %s", describe(exc))
        finally:
            self._housekeeping_lock.release()
