"""End to end: the in-project emulator sends dbt Cloud's signed webhooks, with duplicates and redeliveries,
to a real monitor, which tracks every run once per event. Skipped where the emulator sends no webhooks."""

from __future__ import annotations

import pytest
from monitor_helpers import free_port, wait_for
from webhook_helpers import SECRET, event_states, monitor_in_process, webhook_config, webhook_sightings

from airflow_provider_databand_dbt.testing.emulator import DEMO_ACCOUNT_ID, HOURLY_JOB_ID
from airflow_provider_databand_dbt.tracking.store import TrackingStore


def test_emulator_webhooks_with_duplicates_and_redeliveries_track_each_event_once(
    emulator, tmp_path, tracking_url, small_dir
):
    if not hasattr(emulator, "add_webhook"):
        pytest.skip("this emulator sends no webhooks")
    from airflow_provider_databand_dbt.testing.emulator_webhooks import WebhookFault

    port = free_port()
    config = webhook_config(tmp_path / "monitor.cfg", emulator.url, tracking_url, port)
    with TrackingStore(tracking_url) as store, monitor_in_process(config):
        emulator.add_webhook(f"http://127.0.0.1:{port}/webhooks/dbt-cloud/main", SECRET)
        emulator.inject_webhook_fault(WebhookFault(kind="duplicate", event_type="job.run.completed"))
        emulator.inject_webhook_fault(WebhookFault(kind="redeliver", event_type="job.run.started", delay=0.2))
        failed = emulator.add_run(DEMO_ACCOUNT_ID, HOURLY_JOB_ID, status="error", artifacts_dir=str(small_dir))
        passed = emulator.add_run(DEMO_ACCOUNT_ID, HOURLY_JOB_ID, status="success", artifacts_dir=str(small_dir))
        # started + errored + completed for the failed run, started + completed for the other.
        wait_for(lambda: list(event_states(store.engine).values()).count("done") == 5, 60, "5 events tracked")
        deliveries = emulator.webhook_deliveries
        assert {d.status for d in deliveries} == {200}
        assert len(deliveries) > 5  # the duplicates and redeliveries were sent, and acknowledged
        assert webhook_sightings(store.engine) == {failed: 3, passed: 2}
        assert store.get_report(failed).status == "error" and store.get_report(passed).status == "success"
