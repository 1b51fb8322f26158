"""The OpenLineage sink: every tracked run's events, sent through the standard client within a time budget.

Registered with the tracking service's sink registry (see ``sinks/__init__.py``), so every tracker
(API, CLI, hook/operator/sensor, monitor, webhooks) emits. The factory returns None, silently, when the
extra is not installed, nothing configures the client, or ``OPENLINEAGE_DISABLED=true``; with
``OPENLINEAGE_URL``/``OPENLINEAGE_CONFIG`` set but the extra missing it logs one line naming the extra.

A dead backend must not stall a tracker: a run's events are sent from a helper thread and the tracker
waits at most ``DATABAND_DBT_OPENLINEAGE_TIMEOUT`` seconds (default 5); an HTTP transport's request
timeout is capped at that budget and its default retries shortened. A failure or a timeout raises
one short error, which the tracking service logs and counts; tracking itself never fails.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Optional

from airflow_provider_databand_dbt.extras import install_command, missing_module
from airflow_provider_databand_dbt.model.report import RunReport
from airflow_provider_databand_dbt.model.source import TrackingSource
from airflow_provider_databand_dbt.openlineage import config
from airflow_provider_databand_dbt.tracking.rows import SaveOutcome

log = logging.getLogger(__name__)

_warned_missing_extra = threading.Event()


class OpenLineageError(Exception):
    """Events of a run could not be sent (the backend failed, or took longer than the budget)."""


class OpenLineageSink:
    """Emit a tracked run's OpenLineage events with ``client``.

    :param client: an ``openlineage.client.OpenLineageClient`` (anything with ``emit(event)``).
    :param settings: namespace, time budget and dataset namespace override.
    """

    name = "openlineage"
    # Ask the collector for compiled SQL, test details and the adapter (report.lineage).
    wants_lineage = True

    def __init__(self, client: Any, settings: Optional[config.LineageSettings] = None) -> None:
        self.client = client
        self.settings = settings or config.settings()
        # A sender that outlived its budget: while it still waits on the backend, later runs are dropped
        # instead of piling up threads. Trackers in several threads (monitor syncers) share one sink.
        self._stalled: Optional[threading.Thread] = None
        self._lock = threading.Lock()

    def handle(self, report: RunReport, source: TrackingSource, outcome: Optional[SaveOutcome]) -> None:
        """Send the run's events; raises :class:`OpenLineageError` when they could not all be sent in time."""
        from airflow_provider_databand_dbt.openlineage.events import run_events

        events = run_events(report, source, self.settings)
        with self._lock:
            stalled = self._stalled is not None and self._stalled.is_alive()
        if stalled:
            raise OpenLineageError(
                f"the OpenLineage backend is still busy with an earlier run; the {len(events)} events of "
                f"run {report.run_id} are dropped"
            )
        self._send(events, report.run_id)

    def _send(self, events: list, run_id: int) -> None:
        progress = _Progress(len(events))
        worker = threading.Thread(
            target=progress.emit_all, args=(self.client, events), name=f"openlineage-run-{run_id}", daemon=True
        )
        worker.start()
        worker.join(self.settings.timeout)
        if worker.is_alive():
            progress.stop.set()
            with self._lock:
                self._stalled = worker
            raise OpenLineageError(
                f"the OpenLineage backend did not take the events of run {run_id} within {self.settings.timeout:g}s "
                f"({progress.sent} of {len(events)} sent, the rest dropped; {config.TIMEOUT_ENV} sets the budget)"
            )
        if progress.error is not None:
            error = progress.error
            raise OpenLineageError(
                f"{progress.sent} of {len(events)} OpenLineage events of run {run_id} sent, then "
                f"{type(error).__name__}: {error}"
            )
        log.info("run %s: %d OpenLineage events sent", run_id, len(events))


class _Progress:
    """What the sending thread did; stops at the first failure (the backend is down, the rest would fail too)."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.sent = 0
        self.error: Optional[BaseException] = None
        self.stop = threading.Event()

    def emit_all(self, client: Any, events: list) -> None:
        try:
            for event in events:
                if self.stop.is_set():
                    return
                client.emit(event)
                self.sent += 1
        except Exception as exc:  # noqa: BLE001 - reported by the tracker's thread as one line
            self.error = exc


def openlineage_sink() -> Optional[OpenLineageSink]:
    """The sink when OpenLineage is installed and configured, else None (the registry's factory)."""
    if config.is_disabled() or not config.is_configured():
        return None
    missing = missing_module(config.EXTRA)
    if missing is not None:
        if config.asked_for() and not _warned_missing_extra.is_set():
            _warned_missing_extra.set()
            log.warning(
                "OPENLINEAGE_URL/OPENLINEAGE_CONFIG is set, but sending OpenLineage events needs the '%s' extra "
                "(%s is not installed): %s",
                config.EXTRA,
                missing,
                install_command(config.EXTRA),
            )
        return None
    from openlineage.client import OpenLineageClient

    client = OpenLineageClient()
    if getattr(client.transport, "kind", None) == "noop":
        return None
    lineage_settings = config.settings()
    bound_http(client.transport, lineage_settings.timeout)
    return OpenLineageSink(client, lineage_settings)


# Retries of an HTTP transport whose retries the user did not configure: one more try, quickly, instead
# of the client's five with backoff (~5 s of a tracker's time per event when the backend is down).
SHORT_RETRY = {"total": 2, "connect": 1, "read": 1, "backoff_factor": 0.2}


def bound_http(transport: Any, budget: float) -> None:
    """Cap an HTTP transport's request timeout at ``budget`` and shorten its default retries (composites too)."""
    from openlineage.client.transport.http_common import DEFAULT_RETRY_CONFIG

    for http in _http_transports(transport):
        http.timeout = min(float(http.timeout), budget)
        if http.config.retry == DEFAULT_RETRY_CONFIG:
            http.config.retry = {**DEFAULT_RETRY_CONFIG, **SHORT_RETRY}


def _http_transports(transport: Any) -> list:
    if getattr(transport, "kind", None) == "http" and hasattr(transport, "config"):
        return [transport]
    children = getattr(transport, "transports", None) or []
    return [http for child in children for http in _http_transports(child)]
