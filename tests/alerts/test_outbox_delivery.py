"""Delivery of the outbox: retries with backoff, giving up, one sender per row, crashes, time caps, trackers."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

from alert_helpers import FAST_DELIVERY, SECRET_PATH, WebhookReceiver, config, notification, write_config

from airflow_provider_databand_dbt.alerts.delivery import OutboxDelivery, backoff_seconds, drain_outbox
from airflow_provider_databand_dbt.alerts.delivery_sink import DeliverySink
from airflow_provider_databand_dbt.alerts.outbox import enqueue
from airflow_provider_databand_dbt.model.report import RunReport
from airflow_provider_databand_dbt.model.source import TrackingSource
from airflow_provider_databand_dbt.sinks.service import TrackingService
from airflow_provider_databand_dbt.tracking import alert_outbox
from airflow_provider_databand_dbt.tracking.store import TrackingStore

WORKER = Path(__file__).parent / "outbox_crash_worker.py"


def _hook_config(tmp_path, receiver, **delivery):
    return config(
        tmp_path,
        [{"name": "hook", "type": "webhook", "url_env": "HOOK_URL", "timeout": 2}],
        environ={"HOOK_URL": receiver.secret_url},
        delivery={**FAST_DELIVERY, **delivery},
    )


def _queue(store, cfg, *notifications):
    return store.transact("queue", lambda conn: enqueue(conn, list(notifications), cfg))


def _rows(store):
    return store.read("rows", lambda conn: alert_outbox.list_rows(conn, limit=1000))


def _drain_until(store, cfg, done, seconds=10.0):
    deadline = time.monotonic() + seconds
    while not done():
        assert time.monotonic() < deadline, "delivery did not finish"
        drain_outbox(store, cfg)
        time.sleep(0.05)


def test_a_500_is_retried_after_a_backoff_then_sent(store, tmp_path):
    with WebhookReceiver(500, 200) as receiver:
        cfg = _hook_config(tmp_path, receiver)
        _queue(store, cfg, notification())
        first = drain_outbox(store, cfg)
        assert (first.sent, first.retried) == (0, 1)
        (row,) = _rows(store)
        assert (row.state, row.attempts) == ("pending", 1)
        assert row.last_error.startswith("127.0.0.1 answered HTTP 500")
        assert drain_outbox(store, cfg).sent == 0  # not due yet: the backoff holds it
        _drain_until(store, cfg, lambda: _rows(store)[0].state == "sent")
    (row,) = _rows(store)
    assert (row.state, row.attempts, row.last_error) == ("sent", 2, None)
    assert row.sent_at is not None
    assert len(receiver.bodies) == 2 and receiver.bodies[0] == receiver.bodies[1]


def test_it_fails_for_good_after_max_attempts_without_a_secret_anywhere(store, tmp_path, caplog):
    with WebhookReceiver(503) as receiver:
        cfg = _hook_config(tmp_path, receiver, max_attempts=3)
        _queue(store, cfg, notification())
        _drain_until(store, cfg, lambda: _rows(store)[0].state == "failed")
        assert drain_outbox(store, cfg).sent == 0
    (row,) = _rows(store)
    assert row.attempts == 3 and len(receiver.requests) == 3
    assert row.last_error == "127.0.0.1 answered HTTP 503: invalid_payload ***"
    assert "failed (after 3 attempts)" in caplog.text
    assert "SECRET" not in caplog.text and "SECRET" not in repr(row) and "SECRET" not in repr(cfg)


def test_a_refused_webhook_is_not_retried(store, tmp_path):
    with WebhookReceiver(404) as receiver:
        cfg = _hook_config(tmp_path, receiver)
        _queue(store, cfg, notification())
        assert drain_outbox(store, cfg).failed == 1
    assert (_rows(store)[0].state, _rows(store)[0].attempts) == ("failed", 1)


def test_backoff_doubles_up_to_its_cap():
    from airflow_provider_databand_dbt.alerts.config import DeliverySettings

    settings = DeliverySettings(backoff_initial=30, backoff_max=100)
    assert [backoff_seconds(n, settings, jitter=0) for n in (1, 2, 3, 4)] == [30, 60, 100, 100]


def test_two_senders_never_send_one_row_twice(tracking_url, tmp_path):
    with WebhookReceiver(200, delay=0.02) as receiver:
        cfg = _hook_config(tmp_path, receiver)
        stores = [TrackingStore(tracking_url) for _ in range(3)]
        try:
            _queue(stores[0], cfg, *(notification(key=f"k{i}") for i in range(30)))
            threads = [threading.Thread(target=OutboxDelivery(s, cfg).drain) for s in stores]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(60)
            keys = sorted(body["notification"]["key"] for body in receiver.bodies)
            assert keys == sorted(f"k{i}" for i in range(30))
            assert {row.state for row in _rows(stores[0])} == {"sent"}
        finally:
            for s in stores:
                s.close()


def _crash(mode, url, config_path, key, lease=0.0):
    """Run the worker until it says READY, then kill it (SIGKILL: no cleanup of any kind)."""
    process = subprocess.Popen(
        [sys.executable, str(WORKER), mode, url, str(config_path), key, str(lease)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout.readline().strip() == "READY"
    finally:
        process.kill()
        process.wait(30)


def test_a_crash_between_queueing_and_sending_loses_nothing(tracking_url, tmp_path, monkeypatch):
    with WebhookReceiver(200) as receiver:
        monkeypatch.setenv("HOOK_URL", receiver.secret_url)
        path = write_config(tmp_path / "alerts.toml", [{"name": "hook", "type": "webhook", "url_env": "HOOK_URL"}])
        _crash("enqueue", tracking_url, path, "crashed-before-send")
        with TrackingStore(tracking_url) as store:
            cfg = _hook_config(tmp_path, receiver)
            assert drain_outbox(store, cfg).sent == 1
            assert drain_outbox(store, cfg).sent == 0
    assert [body["notification"]["key"] for body in receiver.bodies] == ["crashed-before-send"]


def test_a_row_claimed_by_a_process_that_died_is_sent_once_its_lease_ends(tracking_url, tmp_path, monkeypatch):
    with WebhookReceiver(200) as receiver:
        monkeypatch.setenv("HOOK_URL", receiver.secret_url)
        path = write_config(tmp_path / "alerts.toml", [{"name": "hook", "type": "webhook", "url_env": "HOOK_URL"}])
        _crash("claim", tracking_url, path, "crashed-while-sending", lease=1.5)
        with TrackingStore(tracking_url) as store:
            cfg = _hook_config(tmp_path, receiver)
            assert drain_outbox(store, cfg).sent == 0  # still claimed: the owner may be alive and sending
            assert _rows(store)[0].state == "sending"
            time.sleep(1.6)
            assert drain_outbox(store, cfg).sent == 1
            assert drain_outbox(store, cfg).sent == 0
            assert (_rows(store)[0].state, _rows(store)[0].attempts) == ("sent", 2)
    assert len(receiver.bodies) == 1


def test_a_time_cap_leaves_the_rest_queued(store, tmp_path):
    with WebhookReceiver(200, delay=0.4) as receiver:
        cfg = _hook_config(tmp_path, receiver)
        _queue(store, cfg, *(notification(key=f"k{i}") for i in range(6)))
        started = time.monotonic()
        result = drain_outbox(store, cfg, deadline_seconds=1.5)
        assert time.monotonic() - started < 2.5
    assert result.sent >= 1 and result.left >= 1
    assert result.retried == 0  # no send was started only to be cut short
    assert sum(row.state == "pending" for row in _rows(store)) == result.left


def test_rows_of_a_channel_this_process_does_not_know_are_left_alone(store, tmp_path):
    with WebhookReceiver(200) as receiver:
        cfg = _hook_config(tmp_path, receiver)
        _queue(store, cfg, notification())
        other = config(
            tmp_path, [{"name": "other", "type": "webhook", "url_env": "U"}], environ={"U": receiver.secret_url}
        )
        assert drain_outbox(store, other).sent == 0
    assert _rows(store)[0].state == "pending"


class QueueingSink:
    """Stands in for the rules' sink: queues one notification per tracked run in its own transaction."""

    name = "alerts"

    def __init__(self, store, cfg) -> None:
        self.store, self.cfg = store, cfg

    def handle(self, report, source, outcome) -> None:
        self.store.transact("queue", lambda conn: enqueue(conn, [notification(key=f"run-{report.run_id}")], self.cfg))


def _report(run_id):
    return RunReport(
        host="cloud.getdbt.com", account_id=1, run_id=run_id, job_id=42, job_name="nightly", status="error"
    )


def test_a_short_lived_tracker_sends_right_after_the_run_is_stored(store, tmp_path):
    with WebhookReceiver(200) as receiver:
        cfg = _hook_config(tmp_path, receiver)
        service = TrackingService(store, [QueueingSink(store, cfg), DeliverySink(store, cfg)])
        service.record(_report(70001), TrackingSource(kind="cli"))
        assert [body["notification"]["key"] for body in receiver.bodies] == ["run-70001"]
        # The monitor drains on its own thread: its records only queue.
        service.record(_report(70002), TrackingSource(kind="monitor", name="acct"))
        assert len(receiver.bodies) == 1
    assert service.sink_failures == {}


def test_a_failing_channel_never_fails_tracking(store, tmp_path):
    with WebhookReceiver(500) as receiver:
        cfg = _hook_config(tmp_path, receiver, inline_seconds=1)
        service = TrackingService(store, [QueueingSink(store, cfg), DeliverySink(store, cfg)])
        outcome = service.record(_report(70001), TrackingSource(kind="airflow"))
    assert outcome.action == "created"
    assert service.sink_failures == {}
    assert _rows(store)[0].state == "pending"  # retried later by the monitor or the next tracked run


def test_the_monitor_worker_drains_every_interval(store, tmp_path, monkeypatch):
    from airflow_provider_databand_dbt.monitor.alert_delivery import AlertDeliveryWorker

    with WebhookReceiver(200) as receiver:
        cfg_path = write_config(
            tmp_path / "alerts.toml",
            [{"name": "hook", "type": "webhook", "url_env": "HOOK_URL"}],
            delivery=FAST_DELIVERY,
        )
        monkeypatch.setenv("HOOK_URL", receiver.secret_url)
        monkeypatch.setenv("DATABAND_DBT_ALERTS_CONFIG", str(cfg_path))
        from airflow_provider_databand_dbt.monitor.metrics import MonitorMetrics

        metrics = MonitorMetrics()
        stop = threading.Event()
        worker = AlertDeliveryWorker(store, 0.1, stop, metrics).start()
        try:
            _queue(store, _hook_config(tmp_path, receiver), notification())
            deadline = time.monotonic() + 10
            while not receiver.bodies and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            stop.set()
            worker.join(5)
    assert len(receiver.bodies) == 1 and not worker.thread.is_alive()
    sample = metrics.registry.get_sample_value
    assert sample("databand_dbt_alert_notifications_total", {"outcome": "sent"}) == 1
    assert sample("databand_dbt_alert_notifications_total", {"outcome": "failed"}) == 0


def test_the_monitor_worker_logs_a_bad_config_once_and_keeps_going(store, tmp_path, monkeypatch, caplog):
    from airflow_provider_databand_dbt.monitor.alert_delivery import AlertDeliveryWorker

    path = tmp_path / "alerts.toml"
    path.write_text('[[channels]]\nname = "x"\ntype = "pager"\n')
    monkeypatch.setenv("DATABAND_DBT_ALERTS_CONFIG", str(path))
    worker = AlertDeliveryWorker(store, 0.05, threading.Event())
    worker.drain_once()
    worker.drain_once()
    assert caplog.text.count("alerts are not sent:") == 1
    assert SECRET_PATH not in caplog.text


def test_the_registered_sinks_alert_once_from_the_trackers_own_store(tmp_path, monkeypatch):
    """Through the registry, as every tracker gets them: the rules' sink opens an incident and queues its
    notification, the delivery sink sends it, both bound to the service's store (not the default one);
    tracking the same run again sends nothing more."""
    with WebhookReceiver(200) as receiver:
        path = write_config(tmp_path / "alerts.toml", [{"name": "hook", "type": "webhook", "url_env": "HOOK_URL"}])
        monkeypatch.setenv("HOOK_URL", receiver.secret_url)
        monkeypatch.setenv("DATABAND_DBT_ALERTS_CONFIG", str(path))
        with TrackingStore(f"sqlite:///{tmp_path / 'elsewhere.db'}") as store:
            service = TrackingService(store)
            assert [sink.name for sink in service.sinks][:2] == ["alerts", "alert-delivery"]
            service.record(_report(70001), TrackingSource(kind="api"))
            service.record(_report(70001), TrackingSource(kind="monitor", name="acct"))
            service.record(_report(70001), TrackingSource(kind="cli"))
        bodies = list(receiver.bodies)
    assert [body["notification"]["key"] for body in bodies] == ["incident-1:opened:run-70001"]
    assert bodies[0]["notification"]["rule"] == "run_failed"
    assert service.sink_failures == {}
