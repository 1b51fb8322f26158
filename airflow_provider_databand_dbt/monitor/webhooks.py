"""The monitor's webhook side, assembled from its config: receiver (HTTP server) plus queue worker.

On only when ``webhook_port`` is set; syncers without a webhook secret get no route (404). Polling
goes on beside it as reconciliation for missed events, so ``interval`` can be long.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from airflow_provider_databand_dbt.monitor.config import MonitorConfig
from airflow_provider_databand_dbt.monitor.metrics import MonitorMetrics
from airflow_provider_databand_dbt.monitor.webhook_health import WebhookHealth
from airflow_provider_databand_dbt.monitor.webhook_http import ROUTE_PREFIX, Route, WebhookReceiver, WebhookServer
from airflow_provider_databand_dbt.monitor.webhook_metrics import WebhookMetrics
from airflow_provider_databand_dbt.monitor.webhook_worker import WebhookWorker
from airflow_provider_databand_dbt.sinks.protocols import Sink
from airflow_provider_databand_dbt.tracking.webhook_events import WebhookQueue

log = logging.getLogger(__name__)


class Webhooks:
    """Receiver and worker of one monitor process.

    :param clients: syncer name -> its dbt Cloud client (rate limit and retries shared with its polling).
    :raises OSError: the webhook port cannot be bound.
    """

    def __init__(
        self,
        config: MonitorConfig,
        store,
        clients: Mapping[str, Any],
        metrics: MonitorMetrics,
        *,
        owner: str,
        stop: threading.Event,
        sinks: Sequence[Sink] | None,
    ) -> None:
        receiving = [s for s in config.syncers if s.webhook_secret]
        self.metrics = WebhookMetrics(metrics.registry, [s.name for s in receiving])
        queue = WebhookQueue(store)
        self.wake = threading.Event()
        routes = {
            s.name: Route(
                syncer=s.name,
                secret=(s.webhook_secret or "").encode("utf-8"),
                account_id=s.account_id,
                host=getattr(clients[s.name], "host", s.api_url),
                job_ids=s.job_ids,
                project_ids=s.project_ids,
                environment_ids=s.environment_ids,
            )
            for s in receiving
        }

        def sink_failed(syncer: str, sink: str) -> None:
            metrics.sink_failures.labels(syncer=syncer, sink=sink).inc()

        self.worker = WebhookWorker(
            queue,
            receiving or config.syncers,
            clients,
            self.metrics,
            owner=owner,
            stop=stop,
            wake=self.wake,
            sinks=sinks,
            on_sink_failure=sink_failed,
        )
        receiver = WebhookReceiver(routes, queue, self.metrics, self.wake.set)
        self.server = WebhookServer(config.webhook_host or config.prometheus_host, config.webhook_port, receiver)
        self.config = config
        self.routes = routes
        self.health = WebhookHealth(
            queue, self.worker.names, self.server.port, config.interval, lambda: self.worker.processed
        )

    def start(self) -> Webhooks:
        self.worker.start()
        self.server.start()
        host = self.config.webhook_host
        if not self.routes:
            log.warning(
                "webhooks on %s:%s, but no syncer has webhook_secret_env/_file: every route answers 404",
                host,
                self.server.port,
            )
        for name in self.routes:
            log.info(
                "receiving dbt Cloud webhooks for syncer %s on http://%s:%s%s%s",
                name,
                host,
                self.server.port,
                ROUTE_PREFIX,
                name,
            )
        return self

    def stop(self, timeout: float) -> None:
        """No new deliveries, then the worker finishes the event it is on (or is abandoned after ``timeout``)."""
        self.server.stop()
        self.wake.set()
        self.worker.join(timeout)
