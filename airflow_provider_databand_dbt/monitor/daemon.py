"""The monitor process: one thread per syncer, caps (iterations, stop_after), signals, metrics server.

Each syncer polls on its own thread, so a failing or slow account (bad token, 5xx, long catch-up)
never delays the others; it backs off exponentially and reports through logs, metrics and ``/health``.
SIGTERM/SIGINT and ``stop_after``: every syncer finishes and stores the run it is on, then the process exits 0;
a syncer still stuck in a request after ``stop_timeout`` seconds is abandoned (its cursor is already saved).
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from typing import Optional

from airflow_provider_databand_dbt.monitor.alert_delivery import AlertDeliveryWorker
from airflow_provider_databand_dbt.monitor.config import MonitorConfig, SyncerConfig
from airflow_provider_databand_dbt.monitor.errors import describe, error_kind, retry_after
from airflow_provider_databand_dbt.monitor.health import HealthBoard
from airflow_provider_databand_dbt.monitor.http import MetricsServer
from airflow_provider_databand_dbt.monitor.metrics import MonitorMetrics
from airflow_provider_databand_dbt.monitor.names_cache import NamesCachingClient
from airflow_provider_databand_dbt.monitor.owner import lease_owner
from airflow_provider_databand_dbt.monitor.pruner import RetentionWorker
from airflow_provider_databand_dbt.monitor.request_budget import record_budgets
from airflow_provider_databand_dbt.monitor.state import Lease
from airflow_provider_databand_dbt.monitor.syncer import Syncer
from airflow_provider_databand_dbt.sinks.protocols import Sink
from airflow_provider_databand_dbt.sinks.registry import default_sinks
from airflow_provider_databand_dbt.sinks.request_budget import share_request_budget

log = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
# Retries inside one request stay within ~2 intervals (at most this): the syncer's backoff handles longer outages.
CLIENT_RETRY_SECONDS = 30.0
# The client's token bucket lets a burst of 1/6 of its rate out after a quiet spell, so a 60 s window can see
# 7/6 of the rate; 6/7 of the budget as rate keeps every 60 s window within max_requests_per_minute.
BUDGET_RATE_SHARE = 6 / 7


class SyncerWorker:
    """Runs one syncer's iterations on a thread: success resets the backoff, failure doubles it."""

    def __init__(
        self, syncer: Syncer, config: MonitorConfig, metrics: MonitorMetrics, health: HealthBoard, stop: threading.Event
    ) -> None:
        self.syncer = syncer
        self.config = config
        self.metrics = metrics
        self.health = health
        self.stop = stop
        self.failures = 0
        self.last_failed = False
        self.thread = threading.Thread(target=self.loop, name=f"syncer-{syncer.name}", daemon=True)

    def loop(self) -> None:
        name = self.syncer.name
        iterations = 0
        try:
            while not self.stop.is_set():
                delay = self._iterate()
                iterations += 1
                if self.config.number_of_iterations and iterations >= self.config.number_of_iterations:
                    break
                self.stop.wait(delay)
        finally:
            try:
                self.syncer.close()
            except Exception as exc:  # releasing the lease is best effort: it expires anyway
                log.warning("syncer %s: could not release its lease: %s", name, describe(exc))

    def _iterate(self) -> float:
        """One iteration; returns how long to wait before the next one."""
        name = self.syncer.name
        started = time.monotonic()
        try:
            self.syncer.run_iteration()
        except Exception as exc:
            kind = error_kind(exc)
            self.failures += 1
            self.last_failed = True
            delay = min(self.config.max_backoff, self.config.interval * 2 ** min(self.failures - 1, 20))
            delay = max(delay, retry_after(exc) or 0.0)
            self.metrics.errors.labels(syncer=name, kind=kind).inc()
            self.metrics.backoff_seconds.labels(syncer=name).set(delay)
            self.health.failure(name, describe(exc), delay)
            log.warning(
                "syncer %s: iteration failed (%s), retrying in %.1f s (failure %d in a row)",
                name,
                describe(exc),
                delay,
                self.failures,
                exc_info=kind == "internal",
                extra={"syncer": name, "error_kind": kind, "backoff_seconds": delay},
            )
            return delay
        finally:
            self.metrics.iterations.inc()
            self.metrics.iteration_seconds.observe(time.monotonic() - started)
        if self.failures:
            log.info("syncer %s: recovered after %d failed iterations", name, self.failures, extra={"syncer": name})
        self.failures = 0
        self.last_failed = False
        standby = self.syncer.lease is not None and not self.syncer.lease.held
        self.metrics.backoff_seconds.labels(syncer=name).set(0)
        self.metrics.last_success.labels(syncer=name).set_to_current_time()
        self.health.success(name, standby=standby)
        return self.config.interval


class MonitorDaemon:
    """Builds clients, syncers, metrics and health from a :class:`MonitorConfig` and runs them.

    :param config: the validated configuration.
    :param store: a ``TrackingStore`` to use (tests); by default one is opened from ``config.tracking_url``.
    """

    def __init__(self, config: MonitorConfig, *, store=None) -> None:
        self.config = config
        self.stop = threading.Event()
        self.metrics = MonitorMetrics()
        self.health = HealthBoard([s.name for s in config.syncers], config.interval)
        self._store = store
        self._signalled = False
        self._forced = False
        self.owner = lease_owner()
        self._sinks: list[Sink] | None = None  # set by run(); None lets a syncer take the registered ones

    def run(self) -> int:
        """Run until the caps are reached or a signal arrives; returns the process exit code."""
        from airflow_provider_databand_dbt.tracking.store import TrackingStore

        server = None
        if self.config.prometheus_port:
            try:
                server = MetricsServer(
                    self.config.prometheus_host, self.config.prometheus_port, self.metrics.render, self.health.snapshot
                ).start()
            except OSError as exc:
                log.error(
                    "cannot serve metrics on %s:%s (%s): choose another prometheus_port, or 0 to disable",
                    self.config.prometheus_host,
                    self.config.prometheus_port,
                    exc.strerror or exc,
                )
                return EXIT_USAGE
            log.info("serving /metrics and /health on %s:%s", self.config.prometheus_host, server.port)
        store, clients, workers, webhooks = self._store, [], [], None
        alerts: Optional[AlertDeliveryWorker] = None
        retention: Optional[RetentionWorker] = None
        previous_handlers = self._install_signal_handlers()
        try:
            if store is None:
                store = TrackingStore(self.config.tracking_url)
            self._sinks = default_sinks()  # one set shared by every syncer of this process
            by_name = {}
            for syncer_config in self.config.syncers:
                client = by_name[syncer_config.name] = self._client(syncer_config)
                clients.append(client)
                share_request_budget(client, store, label=f"monitor syncer {syncer_config.name}")
                workers.append(
                    SyncerWorker(
                        self._syncer(syncer_config, client, store), self.config, self.metrics, self.health, self.stop
                    )
                )
            record_budgets(store, self.config.syncers, clients)
            log.info(
                "monitoring %d syncer(s): %s; interval %g s",
                len(workers),
                ", ".join(f"{s.name} (account {s.account_id} on {s.api_url})" for s in self.config.syncers),
                self.config.interval,
            )
            if self.config.webhook_port:
                webhooks = self._webhooks(store, by_name)
                if webhooks is None:
                    return EXIT_USAGE
            retention = self._retention(store)
            for worker in workers:
                worker.thread.start()
            alerts = AlertDeliveryWorker(store, self.config.interval, self.stop, self.metrics).start()
            self._wait(workers)
        finally:
            self.stop.set()
            if webhooks is not None:
                webhooks.stop(self.config.stop_timeout)
            self._join_or_abandon(workers)
            if alerts is not None:
                alerts.join(self.config.stop_timeout)
            if retention is not None:
                retention.join(self.config.stop_timeout)
            if server is not None:
                server.stop()
            for client in clients:
                client.close()
            if self._store is None and store is not None:
                store.close()
            self._restore_signal_handlers(previous_handlers)
        if self._signalled:
            log.info("stopped by signal")
            return EXIT_OK
        return EXIT_FAILED if any(worker.last_failed for worker in workers) else EXIT_OK

    def _wait(self, workers: list[SyncerWorker]) -> None:
        deadline = None if self.config.stop_after is None else time.monotonic() + self.config.stop_after
        while any(worker.thread.is_alive() for worker in workers) and not self.stop.is_set():
            if deadline is not None and time.monotonic() >= deadline:
                log.info("stop_after of %g s reached; stopping", self.config.stop_after)
                self.stop.set()
                break
            timeout = 0.5 if deadline is None else max(0.01, min(0.5, deadline - time.monotonic()))
            for worker in workers:
                worker.thread.join(timeout=timeout / len(workers))

    def _join_or_abandon(self, workers: list[SyncerWorker]) -> None:
        """Give syncers ``stop_timeout`` seconds to finish the run they store; abandon those stuck in a request.

        An abandoned syncer is a daemon thread that dies with the process; its cursor already covers every
        run it stored, so the next start resumes right there (as after a crash). Its lease is released here.
        """
        deadline = time.monotonic() + (min(1.0, self.config.stop_timeout) if self._forced else self.config.stop_timeout)
        for worker in workers:
            if worker.thread.ident is not None:  # started
                worker.thread.join(timeout=max(0.0, deadline - time.monotonic()))
        for worker in workers:
            if not worker.thread.is_alive():
                continue
            log.warning(
                "syncer %s: still busy %g s after the stop (a request to dbt Cloud does not finish); "
                "abandoning it, the next start resumes from its cursor",
                worker.syncer.name,
                self.config.stop_timeout,
                extra={"syncer": worker.syncer.name},
            )
            try:
                worker.syncer.close()
            except Exception as exc:  # best effort: the lease expires anyway, or is taken over on this host
                log.warning("syncer %s: could not release its lease: %s", worker.syncer.name, describe(exc))

    def _retention(self, store) -> Optional[RetentionWorker]:
        """Start pruning finished queue rows (now, then hourly); None when ``retention_days`` is 0."""
        if not self.config.retention_days:
            log.info("retention: retention_days = 0, sent/failed alerts and finished webhook events are kept forever")
            return None
        return RetentionWorker(store, self.config.retention_days, self.stop, self.metrics).start()

    def _webhooks(self, store, clients: dict):
        """Start the webhook receiver and its worker; None (after logging why) when its port cannot be bound."""
        from airflow_provider_databand_dbt.monitor.webhooks import Webhooks

        try:
            webhooks = Webhooks(
                self.config, store, clients, self.metrics, owner=self.owner, stop=self.stop, sinks=self._sinks
            )
        except OSError as exc:
            log.error(
                "cannot receive webhooks on %s:%s (%s): choose another webhook_port, or 0 to disable",
                self.config.webhook_host,
                self.config.webhook_port,
                exc.strerror or exc,
            )
            return None
        self.health.add_section("webhooks", webhooks.health)
        return webhooks.start()

    def _client(self, syncer: SyncerConfig):
        from airflow_provider_databand_dbt.dbt_cloud.client import DbtCloudClient
        from airflow_provider_databand_dbt.dbt_cloud.retry import RetryPolicy

        counter = self.metrics.api_requests

        def on_request(method: str, path: str, outcome: str) -> None:
            counter.labels(syncer=syncer.name, code=outcome).inc()

        return NamesCachingClient(
            DbtCloudClient(
                syncer.token,
                syncer.api_url,
                retry=RetryPolicy(
                    max_attempts=4, max_total_seconds=min(CLIENT_RETRY_SECONDS, max(1.0, 2 * self.config.interval))
                ),
                max_requests_per_minute=syncer.max_requests_per_minute * BUDGET_RATE_SHARE,
                request_listener=on_request,
                request_deadline=syncer.request_deadline,
                max_response_bytes=syncer.max_response_bytes,
            )
        )

    def _syncer(self, config: SyncerConfig, client, store) -> Syncer:
        self.metrics.init_syncer(config.name)
        lease = Lease(store, config.name, self.owner, self.config.lease_seconds) if self.config.lease_seconds else None
        return Syncer(
            config,
            client,
            store,
            self.metrics,
            self.health,
            lease=lease,
            stop=self.stop,
            interval=self.config.interval,
            sinks=self._sinks,
        )

    # -- signals -------------------------------------------------------------------------------

    def _install_signal_handlers(self) -> Optional[dict]:
        if threading.current_thread() is not threading.main_thread():
            return None
        previous = {}
        for sig in (signal.SIGTERM, signal.SIGINT):
            previous[sig] = signal.signal(sig, self._on_signal)
        return previous

    def _restore_signal_handlers(self, previous: Optional[dict]) -> None:
        for sig, handler in (previous or {}).items():
            signal.signal(sig, handler)

    def _on_signal(self, signum: int, _frame) -> None:
        if self._signalled:
            self._forced = True
            raise KeyboardInterrupt  # second signal: do not wait for the current run
        self._signalled = True
        log.info("received %s: finishing the current run of each syncer, then exiting", signal.Signals(signum).name)
        self.stop.set()
