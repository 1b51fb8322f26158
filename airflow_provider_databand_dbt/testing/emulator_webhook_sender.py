"""Delivers one webhook subscription's events: POST, retry with backoff, deactivate after repeated failures.

Each subscription has its own thread and queue, so a receiver that hangs for the whole 10 s timeout only
delays its own events, and one subscription's events leave in the order they were queued (a retry waiting
for its backoff is overtaken by later events, as with dbt Cloud).
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from dataclasses import dataclass, replace

import requests

from airflow_provider_databand_dbt.testing.emulator_webhook_events import sign
from airflow_provider_databand_dbt.testing.emulator_webhooks import (
    DEACTIVATE_AFTER_FAILURES,
    DeliveryLog,
    DeliveryRecord,
    WebhookSubscription,
)

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
# How much of the receiver's answer the delivery log keeps.
ANSWER_CHARS = 200


@dataclass(frozen=True)
class Delivery:
    """One copy of one event on its way; ``signature`` is ``valid``, ``tampered`` or ``missing``."""

    event_id: str
    event_type: str
    run_id: int
    body: bytes
    copy: str = "original"
    signature: str = "valid"
    attempt: int = 1


@dataclass
class Timing:
    """How deliveries are paced: the receiver's timeout, and the first retry's wait (doubling after)."""

    timeout_seconds: float = 10.0
    retry_base_seconds: float = 0.5
    completed_delay_seconds: float = 0.5

    def backoff(self, attempt: int) -> float:
        return self.retry_base_seconds * (2 ** (attempt - 1))


class SubscriptionSender:
    """The queue and thread of one subscription; ``lock`` guards the subscription's counters."""

    def __init__(self, subscription: WebhookSubscription, timing: Timing, deliveries: DeliveryLog) -> None:
        self.subscription = subscription
        self.timing = timing
        self.deliveries = deliveries
        self.lock = threading.Lock()
        self._queue: list[tuple[float, int, Delivery]] = []
        self._seq = itertools.count()
        self._wake = threading.Condition()
        self._stopped = False
        self._thread = threading.Thread(target=self._loop, name=f"emulator-webhook:{subscription.id}", daemon=True)
        self._session = requests.Session()
        # Loopback only: never route through a proxy from the environment.
        self._session.trust_env = False

    def start(self) -> None:
        if self._thread.ident is None and not self._stopped:
            self._thread.start()

    def stop(self) -> None:
        with self._wake:
            self._stopped = True
            self._wake.notify_all()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            # A send in flight may wait out its timeout; the thread is a daemon, so do not wait that long.
            self._thread.join(timeout=2)
        self._session.close()

    def put(self, delivery: Delivery, delay: float = 0.0) -> None:
        with self._wake:
            heapq.heappush(self._queue, (time.monotonic() + delay, next(self._seq), delivery))
            self._wake.notify_all()

    def pending(self) -> int:
        with self._wake:
            return len(self._queue)

    def _next(self) -> Delivery | None:
        with self._wake:
            while not self._stopped:
                if self._queue:
                    due = self._queue[0][0] - time.monotonic()
                    if due <= 0:
                        return heapq.heappop(self._queue)[2]
                    self._wake.wait(due)
                else:
                    self._wake.wait()
            return None

    def _loop(self) -> None:
        while True:
            delivery = self._next()
            if delivery is None:
                return
            try:
                self._deliver(delivery)
            except Exception:  # the sender must outlive a bug in one delivery
                log.exception("webhook delivery %s failed unexpectedly", delivery.event_id)

    def _deliver(self, delivery: Delivery) -> None:
        sub = self.subscription
        if not sub.active:
            self.record(delivery, 0, "subscription deactivated", "skipped", time.time(), 0.0)
            return
        headers = {"Content-Type": "application/json", "User-Agent": "dbt-cloud-emulator-webhooks/1.0"}
        if delivery.signature == "valid":
            headers["Authorization"] = sign(delivery.body, sub.secret)
        elif delivery.signature == "tampered":
            headers["Authorization"] = sign(delivery.body, sub.secret + "-tampered")
        sent_at, started = time.time(), time.monotonic()
        status, problem, answer = 0, None, ""
        try:
            response = self._session.post(
                sub.url,
                data=delivery.body,
                headers=headers,
                timeout=self.timing.timeout_seconds,
                allow_redirects=False,
            )
            status = response.status_code
            answer = response.text[:ANSWER_CHARS]
            response.close()
        except requests.Timeout:
            problem = f"no answer within {self.timing.timeout_seconds:g} s"
        except requests.RequestException as exc:
            problem = type(exc).__name__
        elapsed = time.monotonic() - started
        ok = 200 <= status < 300
        if ok:
            outcome = "delivered"
        elif delivery.attempt < MAX_ATTEMPTS:
            outcome = "retrying"
        else:
            outcome = "failed"
        with self.lock:
            sub.http_status_code = status
            sub.dispatched_at = sent_at
            if ok:
                sub.consecutive_failures = 0
            elif outcome == "failed":
                sub.consecutive_failures += 1
                if sub.consecutive_failures >= DEACTIVATE_AFTER_FAILURES and sub.active:
                    sub.active = False
                    sub.deactivated_at = time.time()
                    log.info(
                        "webhook %s deactivated after %s consecutive failed deliveries",
                        sub.id,
                        DEACTIVATE_AFTER_FAILURES,
                    )
        error = problem or (None if ok else f"HTTP {status}")
        self.record(delivery, status, error, outcome, sent_at, elapsed, answer)
        if outcome == "retrying":
            self.put(replace(delivery, attempt=delivery.attempt + 1), self.timing.backoff(delivery.attempt))

    def record(
        self,
        delivery: Delivery,
        status: int,
        error: str | None,
        outcome: str,
        at: float,
        seconds: float,
        answer: str = "",
    ) -> None:
        """Add one line to the delivery log (the control plane and tests read it)."""
        self.deliveries.add(
            DeliveryRecord(
                subscription_id=self.subscription.id,
                event_id=delivery.event_id,
                event_type=delivery.event_type,
                run_id=delivery.run_id,
                attempt=delivery.attempt,
                copy=delivery.copy,
                status=status,
                error=error,
                signature=delivery.signature,
                outcome=outcome,
                sent_at=at,
                seconds=seconds,
                answer=answer,
            )
        )
