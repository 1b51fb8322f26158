"""The webhook worker against the emulator and a real store: failures are retried with backoff, then given up."""

from __future__ import annotations

import threading

import pytest
from monitor_helpers import wait_for

from airflow_provider_databand_dbt.dbt_cloud.client import DbtCloudClient
from airflow_provider_databand_dbt.dbt_cloud.retry import RetryPolicy
from airflow_provider_databand_dbt.monitor.config import SyncerConfig
from airflow_provider_databand_dbt.monitor.webhook_metrics import WebhookMetrics
from airflow_provider_databand_dbt.monitor.webhook_worker import MAX_ATTEMPTS, WebhookWorker
from airflow_provider_databand_dbt.testing.emulator import DEMO_ACCOUNT_ID, DEMO_TOKEN, HOURLY_JOB_ID, Fault
from airflow_provider_databand_dbt.tracking.webhook_events import WebhookEvent, WebhookQueue


@pytest.fixture()
def worker(emulator, store):
    """A worker with a fast backoff and a client that does not retry by itself."""
    from prometheus_client import CollectorRegistry

    config = SyncerConfig(name="main", account_id=DEMO_ACCOUNT_ID, api_url=emulator.url, token=DEMO_TOKEN)
    client = DbtCloudClient(DEMO_TOKEN, emulator.url, retry=RetryPolicy(max_attempts=1))
    registry = CollectorRegistry()
    stop, wake = threading.Event(), threading.Event()
    running = WebhookWorker(
        WebhookQueue(store),
        [config],
        {"main": client},
        WebhookMetrics(registry, ["main"]),
        owner="test-worker",
        stop=stop,
        wake=wake,
        sinks=[],
        poll_seconds=0.05,
        retry_base_seconds=0.05,
    ).start()
    yield running, registry
    stop.set()
    running.join(10)
    client.close()


def processed(registry, outcome: str) -> float:
    return registry.get_sample_value(
        "databand_dbt_webhook_events_processed_total", {"syncer": "main", "outcome": outcome}
    )


def test_a_run_that_does_not_exist_is_retried_then_failed_for_good(worker, store):
    running, registry = worker
    queue = WebhookQueue(store)
    queue.enqueue(WebhookEvent("main", "wev_missing", "job.run.completed", "h", DEMO_ACCOUNT_ID, 987654))
    wait_for(lambda: queue.counts() == {"failed": 1}, 30, "the event to fail for good")
    assert processed(registry, "retry") == MAX_ATTEMPTS - 1 and processed(registry, "failed") == 1
    with store.engine.connect() as conn:
        row = conn.exec_driver_sql("SELECT attempts, last_error FROM dbt_tracking_webhook_event").one()
    assert row[0] == MAX_ATTEMPTS and row[1].startswith("not_found")
    assert store.get_report(987654) is None


def test_a_transient_server_error_is_retried_and_the_run_tracked(worker, store, emulator, small_dir):
    running, registry = worker
    run_id = emulator.add_run(DEMO_ACCOUNT_ID, HOURLY_JOB_ID, status="success", artifacts_dir=str(small_dir))
    emulator.inject_fault(Fault(path_pattern=rf"/runs/{run_id}/$", kind="status", status=503, times=2))
    queue = WebhookQueue(store)
    queue.enqueue(WebhookEvent("main", "wev_flaky", "job.run.completed", "h", DEMO_ACCOUNT_ID, run_id))
    wait_for(lambda: queue.counts() == {"done": 1}, 30, "the event to be tracked")
    assert processed(registry, "retry") == 2 and processed(registry, "done") == 1
    assert store.get_report(run_id).status == "success"
    assert [source.kind for source in store.list_sources(run_id)] == ["webhook"]
    assert registry.get_sample_value("databand_dbt_webhook_event_to_tracked_seconds_count", {"syncer": "main"}) == 1
