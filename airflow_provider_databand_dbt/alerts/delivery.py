"""Send what the alert outbox holds: claim a due row, send it, mark it sent or schedule a retry with backoff.

Called by short-lived trackers right after a run is stored (``DeliverySink``, a few seconds at most) and
by the monitor each interval (:func:`drain_outbox`). Each row is claimed before it is sent (see
``tracking/alert_outbox.py``), so two processes never send one row twice, and a row claimed by a process
that died is sent again once its lease ended. Nothing here raises into tracking: store errors and channel
errors are logged in one line (never a secret) and the row stays queued.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Optional

import msgspec
from sqlalchemy.engine import Connection

from airflow_provider_databand_dbt.alerts.channels import Channel, DeliveryError, build_channel
from airflow_provider_databand_dbt.alerts.config import AlertsConfig, DeliverySettings, current_alerts_config
from airflow_provider_databand_dbt.alerts.notification import AlertNotification
from airflow_provider_databand_dbt.alerts.secrets import redact
from airflow_provider_databand_dbt.tracking import alert_outbox
from airflow_provider_databand_dbt.tracking.errors import TrackingError

log = logging.getLogger(__name__)

# A claim lasts at least the send's timeout plus this margin, so a slow but live sender keeps its row.
LEASE_MARGIN_SECONDS = 1.0
# A send is not started with less time than this left in a drain's budget: it would only time out.
MIN_SEND_SECONDS = 0.5


@dataclass
class DrainResult:
    """What one drain did: rows sent, rescheduled after a failed attempt, failed for good, left for later."""

    sent: int = 0
    retried: int = 0
    failed: int = 0
    left: int = 0
    store_error: Optional[str] = None

    def __str__(self) -> str:
        text = f"{self.sent} sent, {self.retried} to retry, {self.failed} failed, {self.left} left for later"
        return text + (f"; store error: {self.store_error}" if self.store_error else "")


def backoff_seconds(attempts: int, settings: DeliverySettings, jitter: float = 0.1) -> float:
    """Delay after the ``attempts``-th failed attempt: ``backoff_initial`` doubled each time, capped, +/- 10 %."""
    delay = min(settings.backoff_max, settings.backoff_initial * 2 ** min(max(attempts - 1, 0), 30))
    return delay * (1 + random.uniform(-jitter, jitter))


def owner_id() -> str:
    """Who claims rows: host, pid and a random part (a restarted process never reuses a claim)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class OutboxDelivery:
    """Sends due outbox rows of the configured channels through one store.

    :param store: a ``TrackingStore`` (open; not closed here).
    :param config: the alerts configuration (its channels and delivery settings).
    :param channels: senders by channel name; built from ``config`` by default (tests may pass their own).
    """

    def __init__(self, store: Any, config: AlertsConfig, *, channels: Optional[dict[str, Channel]] = None) -> None:
        self.store = store
        self.config = config
        self.settings = config.delivery
        self.channels = channels if channels is not None else {c.name: build_channel(c) for c in config.channels}
        self.owner = owner_id()

    def drain(self, deadline_seconds: Optional[float] = None, stop: Optional[threading.Event] = None) -> DrainResult:
        """Send every due row once, until none is left, ``deadline_seconds`` passed or ``stop`` is set."""
        result = DrainResult()
        end = None if deadline_seconds is None else time.monotonic() + deadline_seconds
        attempted: set[int] = set()
        names = sorted(self.channels)
        try:
            while True:
                due = self.store.read("read the alert outbox", self._due_reader(names, len(attempted)))
                due = [row_id for row_id in due if row_id not in attempted]
                if not due:
                    break
                for index, row_id in enumerate(due):
                    if self._out_of_time(end) or (stop is not None and stop.is_set()):
                        result.left += len(due) - index
                        return result
                    attempted.add(row_id)
                    self._attempt(row_id, end, result)
        except TrackingError as exc:
            result.store_error = str(exc)
            log.warning("alert delivery stopped: the tracking store failed (%s); queued alerts are sent later", exc)
        return result

    def _due_reader(self, names: list[str], skipped: int) -> Callable[[Connection], list[int]]:
        """A read of the due rows now; ``skipped`` more rows than a batch, since those attempted come back."""
        now = datetime.now(timezone.utc)
        limit = self.settings.batch_size + skipped
        return lambda conn: alert_outbox.due_ids(conn, names, now, limit)

    def _attempt(self, row_id: int, end: Optional[float], result: DrainResult) -> None:
        now = datetime.now(timezone.utc)
        lease = max(self.settings.lease_seconds, self._timeout_of(None) + LEASE_MARGIN_SECONDS)
        row = self.store.transact(
            "claim an alert notification",
            lambda conn: alert_outbox.claim(conn, row_id, self.owner, now, now + timedelta(seconds=lease)),
        )
        if row is None:
            return  # another process took it, or it is not due any more
        channel = self.channels[row.channel]
        try:
            notification = msgspec.json.decode(row.payload, type=AlertNotification)
        except msgspec.MsgspecError as exc:
            self._failed(row, f"the queued notification cannot be read ({exc})", False, result)
            return
        timeout = channel.config.timeout
        if end is not None:
            timeout = max(min(MIN_SEND_SECONDS, timeout), min(timeout, end - time.monotonic()))
        try:
            channel.send(notification, timeout)
        except DeliveryError as exc:
            self._failed(row, str(exc), exc.retryable, result)
            return
        except Exception as exc:  # noqa: BLE001 - a channel's bug must not stop the others; the row is retried
            message = redact(f"{type(exc).__name__}: {exc}", channel.config.secrets())
            self._failed(row, message, True, result)
            return
        kept = self.store.transact(
            "mark an alert notification sent",
            lambda conn: alert_outbox.mark_sent(conn, row.id, self.owner, datetime.now(timezone.utc)),
        )
        result.sent += 1
        log.info("alert %s sent to channel %s (attempt %d)", row.notification_key, row.channel, row.attempts)
        if not kept:
            log.warning(
                "alert %s was sent to channel %s after its claim ended (lease_seconds too short?): it may arrive twice",
                row.notification_key,
                row.channel,
            )

    def _failed(self, row: alert_outbox.OutboxRow, error: str, retryable: bool, result: DrainResult) -> None:
        error = alert_outbox.one_line(error)
        give_up = not retryable or row.attempts >= self.settings.max_attempts
        next_at = None
        if not give_up:
            next_at = datetime.now(timezone.utc) + timedelta(seconds=backoff_seconds(row.attempts, self.settings))
        self.store.transact(
            "record a failed alert delivery",
            lambda conn: alert_outbox.mark_attempt_failed(conn, row.id, self.owner, error, next_at),
        )
        if give_up:
            result.failed += 1
            why = "not retryable" if not retryable else f"after {row.attempts} attempts"
            log.error("alert %s to channel %s failed (%s): %s", row.notification_key, row.channel, why, error)
        else:
            result.retried += 1
            log.warning(
                "alert %s to channel %s failed (attempt %d of %d), retrying at %s: %s",
                row.notification_key,
                row.channel,
                row.attempts,
                self.settings.max_attempts,
                next_at.isoformat(timespec="seconds") if next_at else "-",
                error,
            )

    def _out_of_time(self, end: Optional[float]) -> bool:
        """No time left to start a send that could succeed (at least a second, or the channel's timeout)."""
        return end is not None and end - time.monotonic() < min(MIN_SEND_SECONDS, self._timeout_of(None))

    def _timeout_of(self, name: Optional[str]) -> float:
        timeouts = [c.config.timeout for n, c in self.channels.items() if name is None or n == name]
        return max(timeouts, default=0.0)


def drain_outbox(
    store: Any,
    config: Optional[AlertsConfig] = None,
    *,
    deadline_seconds: Optional[float] = None,
    stop: Optional[threading.Event] = None,
) -> DrainResult:
    """Send the due alerts of ``store`` once: what the monitor calls each interval (and ``alerts deliver``).

    :param config: the alerts configuration; default: the current one. Nothing is done without channels.
    :raises AlertsConfigError: the configuration is invalid (the caller logs it).
    """
    config = current_alerts_config() if config is None else config
    if not config.active:
        return DrainResult()
    return OutboxDelivery(store, config).drain(deadline_seconds, stop)
