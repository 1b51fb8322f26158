"""Short-lived trackers send queued alerts right after a run is stored: a sink after the rules' sink.

The API, the CLI and Airflow tasks have no loop of their own to send later, so this sink drains the
outbox once, for at most ``[delivery] inline_seconds`` (5 s by default); what is left (a slow or failing
channel) waits for the next tracked run or the monitor. The monitor and its webhook receiver skip it:
the monitor drains the outbox every interval on its own thread (``monitor/alert_delivery.py``).
"""

from __future__ import annotations

import logging
from typing import Any, Optional

from airflow_provider_databand_dbt.alerts.config import AlertsConfig, current_alerts_config
from airflow_provider_databand_dbt.alerts.delivery import drain_outbox
from airflow_provider_databand_dbt.model.report import RunReport
from airflow_provider_databand_dbt.model.source import TrackingSource
from airflow_provider_databand_dbt.sinks.store import opened_store
from airflow_provider_databand_dbt.tracking.rows import SaveOutcome

log = logging.getLogger(__name__)

# Trackers that live as long as one run: the others (monitor, webhook) drain on the monitor's thread.
INLINE_KINDS = frozenset({"api", "cli", "airflow"})


class DeliverySink:
    """Drain the alert outbox once after each run stored by a short-lived tracker.

    :param store: the tracker's open store, or None to open the default one (``DATABAND_DBT_TRACKING_URL``...).
    :param config: the alerts configuration; default: the current one.
    """

    name = "alert-delivery"

    def __init__(self, store: Any = None, config: Optional[AlertsConfig] = None) -> None:
        self.store = store
        self.config = config

    def for_store(self, store: Any) -> DeliverySink:
        """This sink, sending from ``store`` (the tracker's own store, whatever its URL): the service binds it."""
        return DeliverySink(store, self.config)

    def handle(self, report: RunReport, source: TrackingSource, outcome: Optional[SaveOutcome]) -> None:
        if source.kind not in INLINE_KINDS:
            return
        config = self.config or current_alerts_config()
        budget = config.delivery.inline_seconds
        if not config.active or budget <= 0:
            return
        with opened_store(self.store if self.store is not None else True) as store:
            result = drain_outbox(store, config, deadline_seconds=budget)
        if result.sent or result.retried or result.failed or result.left:
            log.info("alerts after run %s: %s", report.run_id, result)


def delivery_sink_factory() -> Optional[DeliverySink]:
    """For ``register_sink_factory``: a sink when alert channels are configured, else None."""
    return DeliverySink() if current_alerts_config().active else None
