"""Turns emulated runs starting, erroring and completing into webhook events, queued per subscription.

Runs move by wall-clock time without any ticking (see emulator_runs), so a watcher thread looks at the runs
not yet announced as finished every ``tick`` seconds. It only runs while a subscription exists: an emulator
without webhooks spends nothing on them. A run that had finished before the first subscription is never
announced; one added later already finished (``add_run(status="error")``) gets all its events at once.
"""

from __future__ import annotations

import itertools
import logging
import threading
from dataclasses import replace
from typing import Any

from airflow_provider_databand_dbt.testing.emulator_payloads import run_status_message
from airflow_provider_databand_dbt.testing.emulator_runs import (
    ERROR,
    RUNNING,
    SUCCESS,
    RunRecord,
    RunSnapshot,
    evaluate,
)
from airflow_provider_databand_dbt.testing.emulator_state import EmulatorState
from airflow_provider_databand_dbt.testing.emulator_webhook_events import (
    COMPLETED,
    ERRORED,
    STARTED,
    encode,
    event_body,
    new_id,
)
from airflow_provider_databand_dbt.testing.emulator_webhook_sender import Delivery, SubscriptionSender, Timing
from airflow_provider_databand_dbt.testing.emulator_webhooks import (
    DeliveryLog,
    DeliveryRecord,
    WebhookError,
    WebhookFault,
    WebhookFaults,
    WebhookSubscription,
    check_event_types,
    check_url,
)

log = logging.getLogger(__name__)

# Watcher stages of a run: nothing sent yet, started sent (completion still to come).
_NEW, _STARTED = 0, 1
_SIGNATURE_FAULTS = {"tamper": "tampered", "unsigned": "missing"}


class WebhookDispatcher:
    """The emulator's webhooks: subscriptions, the watcher that makes events, and one sender per subscription.

    :param tick: seconds between two looks at the runs in progress.
    """

    def __init__(self, state: EmulatorState, tick: float = 0.05) -> None:
        self.state = state
        self.tick = tick
        self.timing = Timing()
        self.faults = WebhookFaults()
        self.deliveries = DeliveryLog()
        self._lock = threading.Lock()
        self._senders: dict[str, SubscriptionSender] = {}
        self._pending: dict[int, int] = {}
        self._known_runs = 0
        self._running = False
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Deliver from now on (the emulator calls this when its server starts)."""
        with self._lock:
            self._running = True
            for sender in self._senders.values():
                sender.start()
            if self._senders:
                self._start_watcher()

    def stop(self) -> None:
        with self._lock:
            self._running = False
            senders = list(self._senders.values())
            watcher, self._watcher = self._watcher, None
        self._stop.set()
        if watcher is not None:
            watcher.join(timeout=5)
        for sender in senders:
            sender.stop()

    # ------------------------------------------------------------------ subscriptions

    def subscribe(
        self,
        url: str,
        secret: str,
        *,
        account_id: int,
        event_types: Any = None,
        job_ids: Any = (),
        name: str = "emulator webhook",
    ) -> WebhookSubscription:
        """Add a webhook subscription; refuses a non-loopback URL, an unknown account or an empty secret."""
        if not isinstance(secret, str) or not secret:
            raise WebhookError("a webhook needs a non-empty secret (it signs every body)")
        self.state.account(int(account_id))  # NotFound for an account the emulator does not have
        sub = WebhookSubscription(
            url=check_url(url),
            secret=secret,
            account_id=int(account_id),
            event_types=check_event_types(event_types),
            job_ids=tuple(int(j) for j in job_ids or ()),
            name=name,
        )
        sender = SubscriptionSender(sub, self.timing, self.deliveries)
        with self._lock:
            self._senders[sub.id] = sender
            if self._running:
                sender.start()
                self._start_watcher()
        log.info("webhook %s subscribed for %s", sub.id, ", ".join(sub.event_types))
        return sub

    def unsubscribe(self, subscription_id: str) -> None:
        with self._lock:
            sender = self._senders.pop(subscription_id, None)
        if sender is None:
            raise KeyError(subscription_id)
        sender.stop()

    def set_active(self, subscription_id: str, active: bool) -> WebhookSubscription:
        """Turn a webhook on again (its failure count starts over) or off, as dbt Cloud's edit page does."""
        sender = self._sender(subscription_id)
        with sender.lock:
            sender.subscription.active = bool(active)
            if active:
                sender.subscription.consecutive_failures = 0
                sender.subscription.deactivated_at = None
        return sender.subscription

    def subscription(self, subscription_id: str) -> WebhookSubscription:
        return self._sender(subscription_id).subscription

    def subscriptions(self) -> list[WebhookSubscription]:
        with self._lock:
            return [s.subscription for s in self._senders.values()]

    def queued(self) -> int:
        """Deliveries waiting to be sent (retries in backoff included)."""
        with self._lock:
            senders = list(self._senders.values())
        return sum(s.pending() for s in senders)

    def add_fault(self, fault: WebhookFault) -> WebhookFault:
        return self.faults.add(fault)

    def delivery_log(self) -> list[DeliveryRecord]:
        return self.deliveries.snapshot()

    def _sender(self, subscription_id: str) -> SubscriptionSender:
        with self._lock:
            sender = self._senders.get(subscription_id)
        if sender is None:
            raise KeyError(subscription_id)
        return sender

    # ------------------------------------------------------------------ watcher

    def _start_watcher(self) -> None:
        """Called with ``_lock`` held; unfinished runs become pending, their ``started`` sent if still due."""
        if self._watcher is not None:
            return
        with self.state.lock:
            now = self.state.clock()
            for run in self.state.runs.values():
                snap = evaluate(run, now)
                if snap.status < SUCCESS:
                    self._pending[run.id] = _STARTED if snap.status >= RUNNING else _NEW
            self._known_runs = len(self.state.runs)
        self._stop.clear()
        self._watcher = threading.Thread(target=self._watch, name="emulator-webhook-watcher", daemon=True)
        self._watcher.start()

    def _watch(self) -> None:
        while not self._stop.wait(self.tick):
            try:
                self.scan()
            except Exception:  # keep watching after a bug in one scan
                log.exception("webhook watcher failed")

    def scan(self) -> None:
        """Queue the events of every run that started, errored or completed since the last scan."""
        events: list[tuple[str, RunRecord, RunSnapshot]] = []
        with self.state.lock:
            runs = self.state.runs
            if len(runs) > self._known_runs:
                # Runs are never removed and a dict keeps insertion order: the new ones are at the end.
                for run_id in itertools.islice(runs, self._known_runs, None):
                    self._pending.setdefault(run_id, _NEW)
                self._known_runs = len(runs)
            now = self.state.clock()
            for run_id, stage in list(self._pending.items()):
                run = runs[run_id]
                snap = evaluate(run, now)
                if stage == _NEW and snap.started_at is not None and snap.status >= RUNNING:
                    events.append((STARTED, run, snap))
                    self._pending[run_id] = _STARTED
                if snap.status >= SUCCESS:
                    if snap.status == ERROR:
                        events.append((ERRORED, run, snap))
                    events.append((COMPLETED, run, snap))
                    del self._pending[run_id]
        for event_type, run, snap in events:
            self._emit(event_type, run, snap)

    def _emit(self, event_type: str, run: RunRecord, snap: RunSnapshot) -> None:
        with self._lock:
            senders = [
                s for s in self._senders.values() if s.subscription.wants(event_type, run.account_id, run.job_id)
            ]
        if not senders:
            return
        state = self.state
        with state.lock:
            job = state.jobs.get(run.job_id)
            environment = state.environments.get((run.account_id, run.environment_id))
            project = state.projects.get((run.account_id, run.project_id))
        delay = self.timing.completed_delay_seconds if event_type == COMPLETED else 0.0
        for sender in senders:
            sub = sender.subscription
            body = event_body(
                event_type,
                webhook_id=sub.id,
                webhook_name=sub.name,
                run=run,
                snap=snap,
                job=job,
                environment=environment,
                project=project,
                status_message=run_status_message(run, snap.status),
            )
            delivery = Delivery(body["eventId"], event_type, run.id, encode(body))
            self._queue(sender, delivery, delay)

    def _queue(self, sender: SubscriptionSender, delivery: Delivery, delay: float) -> None:
        """Queue one event for one subscription, through whatever fault matches it."""
        fault = self.faults.take(delivery.event_type)
        if fault is None:
            sender.put(delivery, delay)
        elif fault.kind == "drop":
            dropped = replace(delivery, attempt=0)
            sender.record(dropped, 0, "dropped by a fault", "dropped", self.state.clock(), 0.0)
        elif fault.kind in _SIGNATURE_FAULTS:
            sender.put(replace(delivery, signature=_SIGNATURE_FAULTS[fault.kind]), delay)
        elif fault.kind == "out_of_order":
            sender.put(delivery, delay + fault.delay)
        else:
            sender.put(delivery, delay)
            copy = "duplicate" if fault.kind == "duplicate" else "redelivery"
            sender.put(replace(delivery, copy=copy), delay + (fault.delay if copy == "redelivery" else 0.0))


def new_secret() -> str:
    """A secret like the one dbt Cloud shows once when a webhook is created."""
    return new_id("", 40)
