"""One syncer: everything that happens in one polling iteration of one dbt Cloud account.

The cursor (newest run id stored + runs still in progress) lives in the tracking store, so a monitor
killed at any point resumes where it stopped. Within an iteration, runs are stored oldest first and
the cursor is saved after each one: a crash can repeat the last run (an idempotent upsert), never skip one.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import Optional

from airflow_provider_databand_dbt.collector.collect import RELATED
from airflow_provider_databand_dbt.model.report import RunReport
from airflow_provider_databand_dbt.model.source import TrackingSource
from airflow_provider_databand_dbt.model.status import RUN_LABELS, RunStatus
from airflow_provider_databand_dbt.monitor.config import SyncerConfig
from airflow_provider_databand_dbt.monitor.errors import LeaseLost, error_kind, is_poison
from airflow_provider_databand_dbt.monitor.health import HealthBoard
from airflow_provider_databand_dbt.monitor.listing import Listing, RunLister, RunRef, filter_streams
from airflow_provider_databand_dbt.monitor.metrics import MonitorMetrics
from airflow_provider_databand_dbt.monitor.poison import FailedRunBook
from airflow_provider_databand_dbt.monitor.prefetch import Outcome, prefetch_in_order
from airflow_provider_databand_dbt.monitor.state import ActiveRuns, CursorState, Lease
from airflow_provider_databand_dbt.sinks.protocols import Sink
from airflow_provider_databand_dbt.sinks.service import TrackingService

log = logging.getLogger(__name__)

IN_PROGRESS = (RunStatus.QUEUED, RunStatus.STARTING, RunStatus.RUNNING)


class Syncer:
    """Polls one dbt Cloud account and stores every run it finds.

    :param config: the syncer's section of the config.
    :param client: a ``DbtCloudClient`` for the account's host (its request budget is per syncer).
    :param store: the ``TrackingStore`` shared by all syncers.
    :param metrics: the monitor's metrics.
    :param health: the monitor's health board.
    :param lease: this syncer's lease in the store, or None when leases are off.
    :param stop: set when the monitor must stop: the current run is finished and stored, the rest waits.
    :param interval: the polling interval, the unit of the retry backoff of runs that failed.
    :param sinks: the sinks after the store; defaults to the registered ones.
    """

    def __init__(
        self,
        config: SyncerConfig,
        client,
        store,
        metrics: MonitorMetrics,
        health: HealthBoard,
        *,
        lease: Optional[Lease],
        stop: threading.Event,
        interval: float = 30.0,
        sinks: Sequence[Sink] | None = None,
    ) -> None:
        self.config = config
        self.name = config.name
        self.client = client
        self.store = store
        # The store stays open for the monitor's life: the service only saves into it.
        self.tracking = TrackingService(store, sinks, on_sink_failure=self._sink_failed)
        self.metrics = metrics
        self.health = health
        self.lease = lease
        self.stop = stop
        self.lister = RunLister(
            client,
            config.account_id,
            filter_streams(config.job_ids, config.project_ids, config.environment_ids),
            config.runs_page_size,
            include_related=RELATED,
        )
        self.cursor = CursorState(store, config.name, client.host, config.account_id)
        self.active = ActiveRuns()
        self.failed = FailedRunBook(store, config.name, client.host, config.account_id, interval, metrics)
        self._retrying: set[int] = set()
        self.source = TrackingSource(kind="monitor", name=config.name)

    def run_iteration(self) -> int:
        """Poll once: list, re-poll active runs, store what changed. Returns the number of runs stored.

        :raises DbtCloudError, TrackingError: the iteration could not finish; the cursor keeps what was stored.
        """
        if self.lease is not None and not self.lease.acquire():
            self.metrics.lease_held.labels(syncer=self.name).set(0)
            log.debug("syncer %s: another monitor holds the lease (%s); standing by", self.name, self.lease.describe())
            return 0
        if self.lease is not None:
            self.metrics.lease_held.labels(syncer=self.name).set(1)
        if not self.cursor.load():
            stored = self._first_start()
        else:
            stored = self._catch_up()
            if self.config.backfill_seconds and not self.cursor.backfill_done and not self.stop.is_set():
                stored += self._backfill_older()
            if not self.stop.is_set():
                stored += self._retry_failed()
        self._publish_cursor()
        return stored

    # -- the three ways of finding work -------------------------------------------------------

    def _first_start(self) -> int:
        """No cursor yet: start from now (tracking runs in progress), plus the backfill window if configured."""
        if self.config.backfill_seconds:
            cutoff = datetime.now(timezone.utc) - timedelta(seconds=self.config.backfill_seconds)
            listing = self.lister.created_since(cutoff)
            log.info(
                "syncer %s: first start, backfilling %d runs created since %s",
                self.name,
                len(listing.selected),
                cutoff.isoformat(timespec="seconds"),
                extra={"syncer": self.name, "runs": len(listing.selected)},
            )
            if not listing.selected:
                self.cursor.save(last_run_id=listing.newest_id or 0, active=[], backfill_done=True)
                return 0
            # Just below the oldest run of the window: if we die half-way, the rest is "newer than the cursor".
            self.active.replace([])
            self.cursor.set(last_run_id=min(listing.selected) - 1, backfill_done=True)
            return self._store_runs([], listing.selected_ascending())
        listing = self.lister.first_pages()
        # In-progress runs can be older than the first page (a long queue): one more request, first start only.
        listing.seen.update(self.lister.first_pages(status=[int(status) for status in IN_PROGRESS]).seen)
        in_progress = sorted(ref.id for ref in listing.seen.values() if not ref.is_terminal)
        newest = max([listing.newest_id or 0, *in_progress])
        # Saved before collecting: in-progress runs are then re-polled after a crash instead of forgotten.
        self.active.replace(in_progress)
        self.cursor.save(last_run_id=newest, active=self.active.ids(), backfill_done=False)
        log.info(
            "syncer %s: first start at run %s; tracking %d runs in progress (no backfill configured)",
            self.name,
            newest,
            len(in_progress),
            extra={"syncer": self.name, "cursor_run_id": newest},
        )
        return self._store_runs([listing.seen[run_id] for run_id in in_progress], [])

    def _catch_up(self) -> int:
        """The normal iteration: runs newer than the cursor, and active runs whose status changed."""
        listing = self.lister.newer_than(self.cursor.last_run_id)
        self.active.restore(self.cursor.active_run_ids)
        changed = self._changed_active(listing)
        return self._store_runs(changed, listing.selected_ascending())

    def _backfill_older(self) -> int:
        """Backfill configured after the first start: finished runs of the window older than the cursor."""
        cutoff = datetime.now(timezone.utc) - timedelta(seconds=self.config.backfill_seconds or 0)
        listing = self.lister.created_since(cutoff)
        older = [
            ref
            for ref in listing.selected_ascending()
            if ref.id <= self.cursor.last_run_id and ref.id not in self.active
        ]
        log.info(
            "syncer %s: backfilling %d older runs created since %s",
            self.name,
            len(older),
            cutoff.isoformat(timespec="seconds"),
            extra={"syncer": self.name, "runs": len(older)},
        )
        stored = self._store_all([(ref, False) for ref in older])
        if not self.stop.is_set():
            self.cursor.save(last_run_id=self.cursor.last_run_id, active=self.active.ids(), backfill_done=True)
        return stored

    def _retry_failed(self) -> int:
        """Runs that failed before and whose retry is due; the cursor is already past them."""
        due = [run_id for run_id in self.failed.due() if run_id not in self.active]
        if not due:
            return 0
        self._retrying = set(due)
        try:
            return self._store_all([(RunRef(id=run_id, status=0), False) for run_id in due])
        finally:
            self._retrying = set()

    def _changed_active(self, listing: Listing) -> list[RunRef]:
        """Active runs whose status differs from what we stored.

        Those not on the pages are re-checked with one ``pk__in`` list call; a run missing from its
        answer, or every run when the host ignored the filter, is fetched one by one as before.
        """
        pending = [run_id for run_id in self.active.ids() if run_id not in listing.selected]
        off_pages = [run_id for run_id in pending if run_id not in listing.seen]
        rechecked = self.lister.by_ids(off_pages) if off_pages else {}
        if rechecked is None:
            log.warning(
                "syncer %s: dbt Cloud ignored the pk__in filter; re-checking %d active runs one by one",
                self.name,
                len(off_pages),
                extra={"syncer": self.name},
            )
            rechecked = {}
        changed = []
        for run_id in pending:
            ref = listing.seen.get(run_id) or rechecked.get(run_id) or self._poll_one(run_id)
            if ref is None:
                continue
            if self.active.status_changed(run_id, ref.status):
                changed.append(ref)
        return changed

    def _poll_one(self, run_id: int) -> Optional[RunRef]:
        """The live status of an active run older than the list pages (one request, no related objects)."""
        try:
            run = self.client.get_run(self.config.account_id, run_id, include_related=())
        except Exception as exc:
            if not is_poison(exc):
                raise
            if error_kind(exc) == "not_found":
                log.warning(
                    "syncer %s: active run %s no longer exists in dbt Cloud; forgetting it",
                    self.name,
                    run_id,
                    extra={"syncer": self.name, "run_id": run_id},
                )
                self.metrics.errors.labels(syncer=self.name, kind="not_found").inc()
            else:
                self.failed.record(run_id, exc)
            self.active.discard(run_id)
            self.cursor.save(last_run_id=self.cursor.last_run_id, active=self.active.ids())
            return None
        return RunRef(id=run.id, status=run.status, created_at=run.created_at, job_id=run.job_definition_id)

    # -- storing ---------------------------------------------------------------------------------

    def _store_runs(self, changed: list[RunRef], new: list[RunRef]) -> int:
        """Re-polled runs, then new runs oldest first; the cursor moves past each new run once it is stored."""
        return self._store_all([(ref, False) for ref in changed] + [(ref, True) for ref in new])

    def _store_all(self, work: list[tuple[RunRef, bool]]) -> int:
        """Collect ``(run, advances_cursor)`` items a few at a time, store them strictly in order."""
        stored = done = 0
        results = prefetch_in_order(
            self._collect, work, self.config.collect_concurrency, f"collect-{self.name}", stop=self.stop
        )
        try:
            for (ref, advances_cursor), outcome in results:
                if self.stop.is_set():
                    break
                if self.lease is not None and not self.lease.renew_if_due():
                    raise LeaseLost(f"syncer {self.name}: lost the lease to another monitor ({self.lease.describe()})")
                stored += self._store_one(ref, outcome, advances_cursor=advances_cursor)
                done += 1
        finally:
            results.close()
        if done < len(work) and self.stop.is_set():
            log.info(
                "syncer %s: stopping; %d runs left for the next start",
                self.name,
                len(work) - done,
                extra={"syncer": self.name},
            )
        return stored

    def _collect(self, item: tuple[RunRef, bool]) -> RunReport:
        ref = item[0]
        return self.tracking.collect(
            self.client, self.config.account_id, ref.id, deadline=self.config.collect_deadline, run=ref.run
        )

    def _store_one(self, ref: RunRef, outcome: Outcome, *, advances_cursor: bool) -> int:
        """Store one collected run, then move the cursor; returns 1 when stored, 0 when skipped.

        A run that cannot be collected or stored for reasons of its own is recorded as failed and skipped.
        """
        report, error = outcome.value, outcome.error
        if error is None and report is not None:  # a worker gives a report or an error
            try:
                saved = self.tracking.record(report, self.source)
            except Exception as exc:
                error = exc
        if error is not None:
            if not is_poison(error):
                raise error
            self.failed.record(ref.id, error)
            report = None
        elif report is not None:
            self._log_tracked(report, saved)
            self.metrics.runs_tracked.labels(syncer=self.name, status=report.status).inc()
            self.health.progress(self.name)
            if ref.id in self._retrying:
                self.failed.clear(ref.id)
        if report is not None:
            finished = report.is_finished
            status = int(RunStatus.from_label(report.status)) if report.status in RUN_LABELS else ref.status
        else:
            finished, status = True, ref.status
        if finished:
            self.active.discard(ref.id)
        else:
            self.active.add(ref.id, status)
        last = max(self.cursor.last_run_id, ref.id) if advances_cursor else self.cursor.last_run_id
        self.cursor.save(last_run_id=last, active=self.active.ids())
        self._publish_cursor()
        return 1 if report is not None else 0

    def _log_tracked(self, report, outcome) -> None:
        summary = report.summary
        counts = " ".join(f"{status}={count}" for status, count in sorted(summary.items())) or "no nodes"
        log.info(
            "tracked run %s of job %s (%s): %s, %s [%s, %s]",
            report.run_id,
            report.job_id,
            report.job_name or "?",
            report.status,
            counts,
            getattr(outcome, "action", "stored"),
            self.name,
            extra={
                "syncer": self.name,
                "run_id": report.run_id,
                "job_id": report.job_id,
                "job_name": report.job_name,
                "status": report.status,
                "counts": summary,
                "action": getattr(outcome, "action", None),
            },
        )

    def _sink_failed(self, sink: str, error: BaseException) -> None:
        self.metrics.sink_failures.labels(syncer=self.name, sink=sink).inc()

    def _publish_cursor(self) -> None:
        self.metrics.cursor_run_id.labels(syncer=self.name).set(self.cursor.last_run_id)
        self.metrics.active_runs.labels(syncer=self.name).set(len(self.active))

    def close(self) -> None:
        if self.lease is not None:
            self.lease.release()
