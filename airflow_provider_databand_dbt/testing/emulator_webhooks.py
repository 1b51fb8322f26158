"""Webhook subscriptions of the emulated dbt Cloud, the faults their deliveries can suffer, and the delivery log.

A subscription is what dbt Cloud's "Create New Webhook" makes: a URL, the events wanted, optional job ids,
and the secret that signs every body. Only loopback URLs are accepted: the emulator posts from this machine
to this machine. The secret never appears in a repr, a log line or a control-plane answer.
"""

from __future__ import annotations

import collections
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from airflow_provider_databand_dbt.dbt_cloud.urls import is_loopback
from airflow_provider_databand_dbt.testing.emulator_faults import FaultList
from airflow_provider_databand_dbt.testing.emulator_webhook_events import EVENT_TYPES, new_id

# dbt Cloud turns a webhook off after this many deliveries in a row failed (each after all its attempts).
DEACTIVATE_AFTER_FAILURES = 5
WEBHOOK_FAULT_KINDS = ("duplicate", "redeliver", "out_of_order", "tamper", "unsigned", "drop")


class WebhookError(ValueError):
    """A subscription or fault that cannot be accepted (answered as 400 by the control plane)."""


def check_url(url: str) -> str:
    """The URL itself when it is http(s) to a loopback host; a one-line error naming only the host otherwise."""
    if not isinstance(url, str) or not url.strip():
        raise WebhookError("a webhook needs a URL, e.g. http://127.0.0.1:8790/webhooks/dbt-cloud/demo")
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname
    except ValueError:
        raise WebhookError("the webhook URL is not a valid URL") from None
    if parts.scheme not in ("http", "https") or not host:
        raise WebhookError("the webhook URL must start with http:// or https:// and name a host")
    if not is_loopback(host):
        raise WebhookError(
            f"the webhook URL's host {host} is not a loopback address; the emulator only delivers to "
            "this machine (127.0.0.1, ::1 or localhost)"
        )
    return url.strip()


def check_event_types(event_types: Any) -> tuple[str, ...]:
    if event_types is None:
        return EVENT_TYPES
    if isinstance(event_types, str):
        event_types = [t for t in event_types.split(",") if t.strip()]
    chosen = tuple(dict.fromkeys(str(t).strip() for t in event_types))
    unknown = [t for t in chosen if t not in EVENT_TYPES]
    if unknown or not chosen:
        raise WebhookError(f"webhook event types are {', '.join(EVENT_TYPES)}; got {', '.join(unknown) or 'none'}")
    return chosen


@dataclass
class WebhookSubscription:
    """One webhook; ``active`` turns false after 5 consecutive failed deliveries, like dbt Cloud.

    :param job_ids: only runs of these jobs (empty: every job of the account).
    """

    url: str
    secret: str = field(repr=False)
    account_id: int
    event_types: tuple[str, ...] = EVENT_TYPES
    job_ids: tuple[int, ...] = ()
    name: str = "emulator webhook"
    id: str = field(default_factory=lambda: new_id("wsu_", 10))
    active: bool = True
    consecutive_failures: int = 0
    http_status_code: int = 0
    dispatched_at: float | None = None
    deactivated_at: float | None = None
    created_at: float = field(default_factory=time.time)

    def wants(self, event_type: str, account_id: int, job_id: int) -> bool:
        return (
            self.active
            and event_type in self.event_types
            and account_id == self.account_id
            and (not self.job_ids or job_id in self.job_ids)
        )

    def as_dict(self) -> dict[str, Any]:
        """What the control plane shows (dbt Cloud's subscription fields, never the secret)."""
        return {
            "id": self.id,
            "name": self.name,
            "account_id": self.account_id,
            "client_url": self.url,
            "event_types": list(self.event_types),
            "job_ids": [str(j) for j in self.job_ids],
            "active": self.active,
            "http_status_code": str(self.http_status_code),
            "dispatched_at": self.dispatched_at,
            "consecutive_failures": self.consecutive_failures,
            "deactivated_at": self.deactivated_at,
        }


@dataclass
class WebhookFault:
    """Something wrong with the deliveries of matching events.

    :param kind: ``duplicate`` sends the event twice at once; ``redeliver`` sends it again ``delay`` seconds
        after the first delivery; ``out_of_order`` holds it ``delay`` seconds so later events overtake it;
        ``tamper`` sends a wrong signature; ``unsigned`` sends no ``Authorization``; ``drop`` never sends it.
    :param event_type: only this event type (any when None).
    :param times: how many events it hits before it is removed; None for every event.
    """

    kind: str
    event_type: str | None = None
    delay: float = 1.0
    times: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in WEBHOOK_FAULT_KINDS:
            raise WebhookError(f"webhook fault kind must be one of {', '.join(WEBHOOK_FAULT_KINDS)}, not {self.kind!r}")
        if self.event_type is not None and self.event_type not in EVENT_TYPES:
            raise WebhookError(f"webhook fault event_type must be one of {', '.join(EVENT_TYPES)}")
        if self.times is not None and int(self.times) < 1:
            raise WebhookError("webhook fault times must be at least 1 (or None for every event)")
        self.delay = float(self.delay)
        if self.delay < 0:
            raise WebhookError("webhook fault delay cannot be negative")

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "event_type": self.event_type, "delay": self.delay, "times": self.times}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> WebhookFault:
        unknown = set(data) - {"kind", "event_type", "delay", "times"}
        if unknown:
            raise WebhookError(f"unknown webhook fault field(s): {', '.join(sorted(unknown))}")
        if "kind" not in data:
            raise WebhookError(f"a webhook fault needs kind: one of {', '.join(WEBHOOK_FAULT_KINDS)}")
        return cls(**data)


class WebhookFaults(FaultList[WebhookFault]):
    """The webhook faults in force."""

    def take(self, event_type: str) -> WebhookFault | None:
        """The fault to apply to this event, consuming one of its ``times``."""
        return self.take_first(lambda fault: fault.event_type in (None, event_type))


@dataclass(frozen=True)
class DeliveryRecord:
    """One attempt to deliver an event, and what came of it.

    :param copy: ``original``, ``duplicate`` or ``redelivery`` (a fault's extra copy).
    :param status: the receiver's HTTP status; 0 when there was none (``error`` says why).
    :param answer: the start of the receiver's answer body (at most 200 characters).
    :param signature: ``valid``, ``tampered`` or ``missing``.
    :param outcome: ``delivered``, ``retrying``, ``failed`` (the last attempt failed), ``dropped`` or
        ``skipped`` (the subscription was deactivated before this was sent).
    """

    subscription_id: str
    event_id: str
    event_type: str
    run_id: int
    attempt: int
    copy: str
    status: int
    error: str | None
    signature: str
    outcome: str
    sent_at: float
    seconds: float
    answer: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "subscription_id": self.subscription_id,
            "event_id": self.event_id,
            "event_type": self.event_type,
            "run_id": self.run_id,
            "attempt": self.attempt,
            "copy": self.copy,
            "status": self.status,
            "error": self.error,
            "signature": self.signature,
            "outcome": self.outcome,
            "sent_at": self.sent_at,
            "seconds": round(self.seconds, 6),
            "answer": self.answer,
        }


class DeliveryLog:
    """Thread-safe, bounded log of delivery attempts, oldest first."""

    def __init__(self, limit: int = 100_000) -> None:
        self._lock = threading.Lock()
        self._records: collections.deque[DeliveryRecord] = collections.deque(maxlen=limit)

    def add(self, record: DeliveryRecord) -> None:
        with self._lock:
            self._records.append(record)

    def clear(self) -> None:
        with self._lock:
            self._records.clear()

    def snapshot(self) -> list[DeliveryRecord]:
        with self._lock:
            return list(self._records)
