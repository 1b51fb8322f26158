"""``/health`` of a real monitor receiving webhooks, over real HTTP: the queue is reported and a stuck one is 503."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from monitor_helpers import MonitorProcess, free_port, health, wait_for, write_config
from queue_rows import event_row
from webhook_helpers import deliver, monitor_in_process, payload, wait_processed, webhook_config

from airflow_provider_databand_dbt.monitor.webhook_health import stale_limit
from airflow_provider_databand_dbt.testing.emulator import DEMO_ACCOUNT_ID, HOURLY_JOB_ID
from airflow_provider_databand_dbt.tracking.schema import webhook_events
from airflow_provider_databand_dbt.tracking.store import TrackingStore

INTERVAL = 3600


def test_health_reports_the_webhook_queue_and_fails_when_it_is_stuck(emulator, tmp_path, tracking_url, small_dir):
    port, metrics_port = free_port(), free_port()
    config = webhook_config(tmp_path / "monitor.cfg", emulator.url, tracking_url, port, prometheus_port=metrics_port)
    with TrackingStore(tracking_url) as store, monitor_in_process(config):
        wait_for(lambda: health(metrics_port)[0] == 200, 30, "a healthy monitor")
        status, body = health(metrics_port)
        assert {"status", "window_seconds", "syncers"} <= set(body) and body["status"] == "ok"
        assert body["webhooks"] == {
            "healthy": True,
            "port": port,
            "queue_depth": 0,
            "oldest_queued_seconds": None,
            "limit_seconds": 10.0 * INTERVAL,
            "processed": 0,
        }

        run_id = emulator.add_run(DEMO_ACCOUNT_ID, HOURLY_JOB_ID, status="success", artifacts_dir=str(small_dir))
        assert deliver(port, payload("job.run.completed", run_id))[0] == 200
        wait_processed(store.engine, 1)
        wait_for(lambda: health(metrics_port)[1]["webhooks"]["processed"] == 1, 10, "one processed event")

        # An event nobody takes (due only tomorrow), received longer ago than the limit: the queue is stuck.
        now = datetime.now(timezone.utc)
        received = now - timedelta(seconds=stale_limit(INTERVAL) + 60)
        stuck = event_row("stuck", "queued", now + timedelta(days=1), received=received)
        with store.engine.begin() as conn:
            conn.execute(webhook_events.insert(), [stuck])
        status, body = wait_for(lambda: _unhealthy(metrics_port), 10, "503 for the stuck queue")
        assert body["status"] == "unhealthy" and body["syncers"]["main"]["healthy"]
        assert body["reason"].startswith("webhooks: oldest queued event waits")
        hooks = body["webhooks"]
        assert not hooks["healthy"] and hooks["queue_depth"] == 1 and hooks["processed"] == 1
        assert hooks["oldest_queued_seconds"] > hooks["limit_seconds"]

        with store.engine.begin() as conn:  # taken and tracked at last: healthy again
            conn.execute(webhook_events.update().where(webhook_events.c.event_id == "stuck").values(state="done"))
        wait_for(lambda: health(metrics_port)[0] == 200, 10, "healthy again")


def test_health_has_no_webhooks_part_without_a_webhook_port(emulator, tmp_path, sqlite_url):
    metrics_port = free_port()
    config = write_config(tmp_path / "m.cfg", emulator.url, sqlite_url, prometheus_port=metrics_port, interval=3600)
    with MonitorProcess(config) as monitor:
        status, body = wait_for(lambda: _healthy(metrics_port), 30, "a healthy monitor")
        assert monitor.terminate() == 0
    assert "webhooks" not in body and set(body) == {"status", "window_seconds", "syncers"}


def _unhealthy(port: int):
    status, body = health(port)
    return (status, body) if status == 503 else None


def _healthy(port: int):
    try:
        status, body = health(port)
    except OSError:
        return None
    return (status, body) if status == 200 else None
