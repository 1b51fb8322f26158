"""Prometheus metrics of the monitor, in a private registry (nothing global, nothing from other libraries).

Labels are few and bounded: the syncer name (from config), the run status (six values), the HTTP
status code or error kind of a request, and an error kind. Never a run id.
"""

from __future__ import annotations

from airflow_provider_databand_dbt.extras import extra_imports
from airflow_provider_databand_dbt.tracking.retention import PRUNABLE

with extra_imports("monitor", "the monitor's metrics (monitor.metrics)"):
    from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector, generate_latest

NAMESPACE = "databand_dbt"

# Kinds for ``databand_dbt_monitor_errors_total{kind}``; see syncer.error_kind().
ERROR_KINDS = (
    "auth",
    "forbidden",
    "not_found",
    "rate_limited",
    "server",
    "timeout",
    "connection",
    "invalid_response",
    "store",
    "lease",
    "internal",
)


# Outcomes for ``databand_dbt_alert_notifications_total{outcome}``.
ALERT_OUTCOMES = ("sent", "retried", "failed")


class MonitorMetrics:
    """Every metric the monitor exports, created on one :class:`CollectorRegistry`."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        r = self.registry
        # process_resident_memory_bytes, process_cpu_seconds_total...: a long-running daemon's vital signs.
        ProcessCollector(registry=r)
        self.iterations = Counter(
            "monitor_iterations",
            "Syncer polling iterations completed (successful or not).",
            namespace=NAMESPACE,
            registry=r,
        )
        self.runs_tracked = Counter(
            "runs_tracked",
            "Runs stored by the monitor, by syncer and run status at the time it was stored.",
            ["syncer", "status"],
            namespace=NAMESPACE,
            registry=r,
        )
        self.api_requests = Counter(
            "api_requests",
            "dbt Cloud API requests (attempts) by syncer and HTTP status code or error kind.",
            ["syncer", "code"],
            namespace=NAMESPACE,
            registry=r,
        )
        self.errors = Counter(
            "monitor_errors",
            "Errors by syncer and kind (auth, server, timeout, store...).",
            ["syncer", "kind"],
            namespace=NAMESPACE,
            registry=r,
        )
        self.alert_notifications = Counter(
            "alert_notifications",
            "Alert notification send attempts by outcome: sent, retried (failed, will retry), failed (gave up).",
            ["outcome"],
            namespace=NAMESPACE,
            registry=r,
        )
        for outcome in ALERT_OUTCOMES:
            self.alert_notifications.labels(outcome=outcome)
        self.iteration_seconds = Histogram(
            "monitor_iteration_seconds",
            "Duration of one syncer iteration (list, re-poll, collect, store).",
            namespace=NAMESPACE,
            registry=r,
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600),
        )
        self.last_success = Gauge(
            "monitor_last_success_timestamp_seconds",
            "Unix time of the last successful iteration of a syncer.",
            ["syncer"],
            namespace=NAMESPACE,
            registry=r,
        )
        self.active_runs = Gauge(
            "monitor_active_runs",
            "Runs the syncer saw queued or running and still re-polls.",
            ["syncer"],
            namespace=NAMESPACE,
            registry=r,
        )
        self.cursor_run_id = Gauge(
            "monitor_cursor_run_id",
            "Newest dbt Cloud run id the syncer has stored (its cursor).",
            ["syncer"],
            namespace=NAMESPACE,
            registry=r,
        )
        self.backoff_seconds = Gauge(
            "monitor_backoff_seconds",
            "Current wait before the next attempt of a failing syncer; 0 when healthy.",
            ["syncer"],
            namespace=NAMESPACE,
            registry=r,
        )
        self.runs_failed = Counter(
            "monitor_runs_failed",
            "Failed attempts at tracking one run (it is skipped and retried later), by kind.",
            ["syncer", "kind"],
            namespace=NAMESPACE,
            registry=r,
        )
        self.runs_given_up = Counter(
            "monitor_runs_given_up",
            "Runs left untracked after their last retry (recorded in the store).",
            ["syncer"],
            namespace=NAMESPACE,
            registry=r,
        )
        self.sink_failures = Counter(
            "sink_failures",
            "Runs stored whose hand-over to a later sink (OpenLineage, alerts...) failed, by sink.",
            ["syncer", "sink"],
            namespace=NAMESPACE,
            registry=r,
        )
        self.rows_pruned = Counter(
            "rows_pruned",
            "Finished queue rows deleted after retention_days (sent/failed alerts, done/failed webhook events).",
            ["table"],
            namespace=NAMESPACE,
            registry=r,
        )
        for table in PRUNABLE:  # the tables tracking/retention.py prunes
            self.rows_pruned.labels(table=table)
        self.lease_held = Gauge(
            "monitor_lease_held",
            "1 when this process holds the syncer's lease (polls it), 0 when standing by.",
            ["syncer"],
            namespace=NAMESPACE,
            registry=r,
        )

    def init_syncer(self, syncer: str) -> None:
        """Create the per-syncer series at zero so dashboards and alerts see them before the first event."""
        self.active_runs.labels(syncer=syncer).set(0)
        self.backoff_seconds.labels(syncer=syncer).set(0)
        self.lease_held.labels(syncer=syncer).set(0)
        self.runs_given_up.labels(syncer=syncer)
        for kind in ERROR_KINDS:
            self.errors.labels(syncer=syncer, kind=kind)

    def render(self) -> bytes:
        """The text exposition format for ``/metrics``."""
        return generate_latest(self.registry)
