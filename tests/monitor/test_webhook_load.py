"""Bursts: 500 events at once, and every valid delivery delivered twice, against a real monitor and store."""

from __future__ import annotations

import statistics
import time
from concurrent.futures import ThreadPoolExecutor

from monitor_helpers import free_port
from webhook_helpers import (
    deliver,
    event_states,
    monitor_in_process,
    payload,
    run_rows,
    wait_processed,
    webhook_config,
    webhook_sightings,
)

from airflow_provider_databand_dbt.testing.emulator import DEMO_ACCOUNT_ID, HOURLY_JOB_ID
from airflow_provider_databand_dbt.tracking.store import TrackingStore


def timed_deliver(port: int, event: dict) -> tuple[int, str, float]:
    started = time.perf_counter()
    status, answer = deliver(port, event)
    return status, answer.get("status", ""), time.perf_counter() - started


def percentile(values: list[float], share: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(share * 100) - 1]


def test_a_burst_of_500_events_is_acknowledged_and_processed(emulator, tmp_path, tracking_url, small_dir):
    port = free_port()
    run_ids = emulator.add_runs(DEMO_ACCOUNT_ID, HOURLY_JOB_ID, 500, status="success", artifacts_dir=str(small_dir))
    config = webhook_config(tmp_path / "monitor.cfg", emulator.url, tracking_url, port)
    with TrackingStore(tracking_url) as store, monitor_in_process(config):
        events = [payload("job.run.completed", run_id) for run_id in run_ids]
        with ThreadPoolExecutor(16) as pool:
            answers = list(pool.map(lambda event: timed_deliver(port, event), events))
        latencies = [seconds for _, _, seconds in answers]
        print(
            f"\n500 webhooks on {store.dialect}: acknowledgement p50 {percentile(latencies, 0.5) * 1000:.1f} ms, "
            f"p99 {percentile(latencies, 0.99) * 1000:.1f} ms, max {max(latencies) * 1000:.1f} ms"
        )
        assert [(status, answer) for status, answer, _ in answers] == [(200, "queued")] * 500
        wait_processed(store.engine, 500, timeout=300)
        assert set(event_states(store.engine).values()) == {"done"}
        assert webhook_sightings(store.engine) == dict.fromkeys(run_ids, 1)


def test_every_valid_delivery_delivered_twice_is_processed_once(emulator, tmp_path, tracking_url, small_dir):
    port = free_port()
    run_ids = emulator.add_runs(DEMO_ACCOUNT_ID, HOURLY_JOB_ID, 50, status="success", artifacts_dir=str(small_dir))
    config = webhook_config(tmp_path / "monitor.cfg", emulator.url, tracking_url, port)
    events = [payload(kind, run_id) for run_id in run_ids for kind in ("job.run.started", "job.run.completed")]
    with TrackingStore(tracking_url) as store, monitor_in_process(config):
        # Both copies of each delivery at the same moment, from different connections.
        with ThreadPoolExecutor(16) as pool:
            answers = list(pool.map(lambda event: timed_deliver(port, event), events + events))
        assert {status for status, _, _ in answers} == {200}
        by_event: dict[str, list[str]] = {}
        for event, (_, answer, _) in zip(events + events, answers):
            by_event.setdefault(event["eventId"], []).append(answer)
        assert all(sorted(pair) == ["duplicate", "queued"] for pair in by_event.values())
        wait_processed(store.engine, len(events), timeout=120)
        time.sleep(0.5)  # nothing more may happen
        assert len(event_states(store.engine)) == len(events)
        assert webhook_sightings(store.engine) == dict.fromkeys(run_ids, 2)  # started + completed
        assert set(run_rows(store.engine).values()) == {1}
        assert {store.get_report(run_id).status for run_id in run_ids} == {"success"}
