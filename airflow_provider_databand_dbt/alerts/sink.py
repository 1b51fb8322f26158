"""The alert sink: after a run is stored, evaluate the rules and publish incident changes, in one transaction.

Registered with ``sinks.registry`` (a factory returning None unless alerts are configured) and bound
to the tracker's store by the tracking service (``for_store``). Incident writes and the
notifications handed to ``publish`` (the outbox's ``enqueue``) commit together or not at all, so a
crash never leaves an incident without its notification nor the other way round.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any, Optional

import msgspec
from sqlalchemy.engine import Connection

from airflow_provider_databand_dbt.alerts.config import AlertsConfigError, current_alerts_config
from airflow_provider_databand_dbt.alerts.evaluate import Evaluated, Publish, evaluate_stored_run
from airflow_provider_databand_dbt.alerts.notification import AlertNotification
from airflow_provider_databand_dbt.alerts.outbox import enqueue
from airflow_provider_databand_dbt.alerts.settings import DEFAULT_SETTINGS, RuleSettings
from airflow_provider_databand_dbt.model.report import RunReport
from airflow_provider_databand_dbt.model.source import TrackingSource
from airflow_provider_databand_dbt.tracking.rows import SaveOutcome

log = logging.getLogger(__name__)


def outbox_publish(conn: Connection, notifications: Sequence[AlertNotification]) -> None:
    """Queue the notifications in the store's outbox (``alerts.outbox.enqueue``), in the caller's transaction."""
    enqueue(conn, notifications)


class AlertSink:
    """Evaluate the alert rules for every stored run and publish the incident changes.

    :param publish: ``(conn, notifications) -> None`` called inside the incident transaction; the
        default queues them in the outbox (``alerts.outbox.enqueue``).
    :param settings: the rules' settings (``[rules]`` of the alerts config); defaults otherwise.
    :param web_base_url: the web view's address, for links to run pages in notifications.
    :param store: the store to evaluate in; the tracking service binds it with :meth:`for_store`.
    """

    name = "alerts"

    def __init__(
        self,
        publish: Publish = outbox_publish,
        *,
        settings: RuleSettings = DEFAULT_SETTINGS,
        web_base_url: Optional[str] = None,
        store: Any = None,
    ) -> None:
        self.publish = publish
        self.settings = settings
        self.web_base_url = web_base_url.rstrip("/") if web_base_url else None
        self.store = store
        self.last_seconds: Optional[float] = None

    def for_store(self, store: Any) -> AlertSink:
        """This sink, evaluating in ``store`` (the tracker's own store, whatever its URL)."""
        return AlertSink(self.publish, settings=self.settings, web_base_url=self.web_base_url, store=store)

    def handle(self, report: RunReport, source: TrackingSource, outcome: SaveOutcome | None) -> None:
        """Evaluate the stored run; a failure is logged in one line and raised to the service (which counts it)."""
        if outcome is None or self.store is None or not hasattr(self.store, "transact"):
            return
        started = time.perf_counter()
        try:
            result: Evaluated = self.store.transact(
                f"evaluate alert rules for run {report.run_id}",
                lambda conn: evaluate_stored_run(
                    conn, outcome.run_pk, self.settings, self.publish, run_page_url=self._run_page_url
                ),
            )
        except Exception as exc:
            log.warning(
                "alerts: run %s is tracked, but its alert rules could not be evaluated (%s: %s)",
                report.run_id,
                type(exc).__name__,
                " ".join(str(exc).split())[:300],
            )
            raise
        finally:
            self.last_seconds = time.perf_counter() - started
        if result.skipped:
            log.debug("alerts: run %s not evaluated (%s)", report.run_id, result.skipped)

    def _run_page_url(self, run_id: int) -> Optional[str]:
        return f"{self.web_base_url}/runs/{int(run_id)}" if self.web_base_url else None


def alert_sink_factory() -> Optional[AlertSink]:
    """The registered factory: an :class:`AlertSink` when alerts are on with a channel, else None.

    Reads the alerts config (file, shortcuts, ``[rules]`` and ``web_base_url``); a bad config raises
    ``AlertsConfigError``, which the registry logs once per tracker while tracking goes on.
    """
    config = current_alerts_config()
    if not config.active:
        return None
    try:
        settings = msgspec.convert(dict(config.rules), RuleSettings, strict=False)
    except msgspec.ValidationError as exc:
        raise AlertsConfigError(f"{config.path or 'alerts config'}: [rules]: {exc}") from None
    return AlertSink(settings=settings, web_base_url=config.web_base_url)
