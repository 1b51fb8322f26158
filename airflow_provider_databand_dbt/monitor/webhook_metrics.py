"""Prometheus metrics of the webhook receiver and its worker, on the monitor's own registry.

Labels stay bounded: the syncer name only for configured syncers (an unknown route is counted by
reason alone), the event type only as one of dbt Cloud's three (anything else is ``other``).
"""

from __future__ import annotations

from airflow_provider_databand_dbt.extras import extra_imports
from airflow_provider_databand_dbt.monitor.metrics import NAMESPACE
from airflow_provider_databand_dbt.monitor.webhook_payload import EVENT_TYPES

with extra_imports("monitor", "the monitor's webhook metrics (monitor.webhook_metrics)"):
    from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REFUSAL_REASONS = ("signature", "unknown_syncer", "too_large", "malformed", "wrong_account", "store_unavailable")
OUTCOMES = ("done", "retry", "failed")


def type_label(event_type: str) -> str:
    return event_type if event_type in EVENT_TYPES else "other"


class WebhookMetrics:
    """Every webhook metric, created on the monitor's registry when webhooks are on."""

    def __init__(self, registry: CollectorRegistry, syncers: list[str]) -> None:
        r = registry
        self.received = Counter(
            "webhook_events_received",
            "Signed, valid webhook deliveries accepted (queued or duplicate), by syncer and event type.",
            ["syncer", "type"],
            namespace=NAMESPACE,
            registry=r,
        )
        self.refused = Counter(
            "webhook_events_refused",
            "Webhook deliveries refused and not tracked, by reason.",
            ["reason"],
            namespace=NAMESPACE,
            registry=r,
        )
        self.duplicates = Counter(
            "webhook_events_duplicate",
            "Redeliveries of an eventId already queued: answered 200, nothing changed.",
            ["syncer"],
            namespace=NAMESPACE,
            registry=r,
        )
        self.processed = Counter(
            "webhook_events_processed",
            "Queued webhook events handled by the worker, by outcome (done, retry later, failed for good).",
            ["syncer", "outcome"],
            namespace=NAMESPACE,
            registry=r,
        )
        self.queue_depth = Gauge(
            "webhook_queue_depth",
            "Webhook events of this monitor's syncers waiting in the store (queued or being handled).",
            namespace=NAMESPACE,
            registry=r,
        )
        self.ack_seconds = Histogram(
            "webhook_request_seconds",
            "Time to answer one webhook delivery (the event is durably queued when the answer is 2xx).",
            namespace=NAMESPACE,
            registry=r,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )
        self.event_to_tracked = Histogram(
            "webhook_event_to_tracked_seconds",
            "From a webhook delivery being received to its run being tracked in the store.",
            ["syncer"],
            namespace=NAMESPACE,
            registry=r,
            buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600),
        )
        for reason in REFUSAL_REASONS:
            self.refused.labels(reason=reason)
        for name in syncers:
            self.duplicates.labels(syncer=name)
            for outcome in OUTCOMES:
                self.processed.labels(syncer=name, outcome=outcome)
