"""The monitor's alert sender: one thread that drains the store's alert outbox every interval.

Alerts are queued by whichever tracker stored the run (this monitor, a webhook, an Airflow task that
could not finish sending); the monitor is the one long-lived process, so it sends what is due and
retries what failed. A bad alerts config is logged once (per distinct error) and never stops the monitor.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Optional

from airflow_provider_databand_dbt.alerts.config import AlertsConfigError
from airflow_provider_databand_dbt.alerts.delivery import drain_outbox

log = logging.getLogger(__name__)

# One drain may take the interval, and at least this long (a short interval must still let a send finish).
MIN_DRAIN_SECONDS = 10.0


class AlertDeliveryWorker:
    """Drains the outbox now, then every ``interval`` seconds, until ``stop`` is set.

    :param store: the monitor's ``TrackingStore``.
    :param interval: seconds between drains; one drain takes at most this long (or ``MIN_DRAIN_SECONDS``).
    :param metrics: the monitor's ``MonitorMetrics``, counting ``databand_dbt_alert_notifications_total``.
    """

    def __init__(self, store: Any, interval: float, stop: threading.Event, metrics: Any = None) -> None:
        self.store = store
        self.interval = interval
        self.stop = stop
        self.metrics = metrics
        self._last_error: Optional[str] = None
        self.thread = threading.Thread(target=self.loop, name="alert-delivery", daemon=True)

    def start(self) -> AlertDeliveryWorker:
        self.thread.start()
        return self

    def loop(self) -> None:
        while not self.stop.is_set():
            self.drain_once()
            self.stop.wait(self.interval)

    def drain_once(self) -> None:
        try:
            result = drain_outbox(self.store, deadline_seconds=max(self.interval, MIN_DRAIN_SECONDS), stop=self.stop)
        except AlertsConfigError as exc:
            if str(exc) != self._last_error:
                log.error("alerts are not sent: %s", exc)
                self._last_error = str(exc)
            return
        except Exception:  # a bug here must not end the thread: alerts would silently stop
            log.exception("alert delivery failed; retrying in %g s", self.interval)
            return
        self._last_error = None
        if self.metrics is not None:
            for outcome in ("sent", "retried", "failed"):
                self.metrics.alert_notifications.labels(outcome=outcome).inc(getattr(result, outcome))
        if result.sent or result.retried or result.failed:
            log.info("alerts: %s", result)

    def join(self, timeout: float) -> None:
        if self.thread.ident is not None:
            self.thread.join(timeout)
