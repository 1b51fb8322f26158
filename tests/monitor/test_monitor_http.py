"""Metrics and /health of a running monitor, scraped over real HTTP; the health rules on their own."""

from __future__ import annotations

import time

from monitor_helpers import MonitorProcess, free_port, health, http_get, scrape, wait_for, write_config

from airflow_provider_databand_dbt.monitor.health import HealthBoard
from airflow_provider_databand_dbt.monitor.state import ActiveRuns
from airflow_provider_databand_dbt.testing.emulator import Fault
from airflow_provider_databand_dbt.tracking.store import TrackingStore


def test_metrics_endpoint_scraped_and_parsed(emulator, tmp_path, sqlite_url):
    port = free_port()
    config = write_config(
        tmp_path / "monitor.cfg", emulator.url, sqlite_url, prometheus_port=port, syncers={"main": {"backfill": "30d"}}
    )
    total = len(emulator.state.runs)
    with TrackingStore(sqlite_url) as store, MonitorProcess(config) as monitor:
        wait_for(lambda: store.count_runs() == total, 30, "the backfill")
        samples = wait_for(lambda: _after_an_iteration(port), 30, "a completed iteration")
        status, body = http_get(f"http://127.0.0.1:{port}/nope")
        assert status == 404
        assert monitor.terminate() == 0, monitor.log()

    def value(name, **labels):
        return samples[(name, tuple(sorted(labels.items())))]

    assert value("databand_dbt_monitor_iterations_total") >= 1
    assert value("databand_dbt_runs_tracked_total", syncer="main", status="error") == 3
    assert value("databand_dbt_runs_tracked_total", syncer="main", status="success") == 3
    assert value("databand_dbt_api_requests_total", syncer="main", code="200") >= total * 4
    assert value("databand_dbt_monitor_errors_total", syncer="main", kind="auth") == 0
    assert value("databand_dbt_monitor_iteration_seconds_count") >= 1
    assert time.time() - value("databand_dbt_monitor_last_success_timestamp_seconds", syncer="main") < 60
    assert value("databand_dbt_monitor_active_runs", syncer="main") == 0
    assert value("databand_dbt_monitor_cursor_run_id", syncer="main") == max(emulator.state.runs)
    assert value("process_resident_memory_bytes") > 0
    # Bounded labels: never a run id.
    label_values = {v for _, labels in samples for _, v in labels}
    assert not any(str(run_id) in label_values for run_id in emulator.state.runs)


def _after_an_iteration(port):
    samples = scrape(port)
    return samples if samples.get(("databand_dbt_monitor_iterations_total", ())) else None


def test_health_flips_to_503_on_server_errors_and_back(emulator, tmp_path, sqlite_url):
    port = free_port()
    config = write_config(
        tmp_path / "monitor.cfg", emulator.url, sqlite_url, prometheus_port=port, interval=0.3, max_backoff=1
    )
    with MonitorProcess(config) as monitor:
        wait_for(lambda: _health_or_none(port) and health(port)[0] == 200, 30, "healthy")
        emulator.inject_fault(Fault(path_pattern=r"/runs/$", status=500))
        status, body = wait_for(lambda: _health_or_none(port) if health(port)[0] == 503 else None, 30, "503")
        assert body["status"] == "unhealthy" and "syncer main" in body["reason"]
        wait_for(lambda: "server:" in (health(port)[1]["syncers"]["main"]["last_error"] or ""), 30, "the error kind")
        assert health(port)[1]["syncers"]["main"]["state"] == "failing"
        emulator.clear_faults()
        wait_for(lambda: health(port)[0] == 200, 30, "healthy again")
        samples = scrape(port)
        assert samples[("databand_dbt_api_requests_total", (("code", "500"), ("syncer", "main")))] >= 1
        assert samples[("databand_dbt_monitor_errors_total", (("kind", "server"), ("syncer", "main")))] >= 1
        assert monitor.terminate() == 0
    assert "syncer main: iteration failed (server:" in monitor.log()
    assert "syncer main: recovered after" in monitor.log()


def _health_or_none(port):
    try:
        return health(port)
    except OSError:  # not listening yet
        return None


def test_health_board_rules():
    now = [100.0]
    board = HealthBoard(["a", "b"], interval=10, clock=lambda: now[0])
    assert board.snapshot()[0]  # grace period after start
    now[0] = 125
    board.success("a")
    board.success("b", standby=True)
    ok, body = board.snapshot()
    assert ok and body["syncers"]["b"]["state"] == "standby"
    now[0] = 150
    board.failure("b", "auth: Invalid token.", backoff_seconds=20)
    board.progress("a")  # a long catch-up storing runs counts as alive
    ok, body = board.snapshot()
    assert ok  # b's last success is 25 s old, within 3 intervals
    now[0] = 160
    ok, body = board.snapshot()
    assert not ok
    assert (
        body["reason"]
        == "syncer b: last successful iteration 35.0 s ago (limit 30 s), last error: auth: Invalid token."
    )
    assert body["syncers"]["a"]["healthy"] and not body["syncers"]["b"]["healthy"]


def test_active_runs_are_bounded_and_remember_statuses():
    active = ActiveRuns(limit=3)
    active.replace([5, 1, 3])
    assert active.status_changed(1, 3)  # unknown after a restart: collect once
    active.add(1, 3)
    assert not active.status_changed(1, 3) and active.status_changed(1, 10)
    active.add(7, 1)
    assert active.ids() == [3, 5, 7]  # the oldest is dropped past the limit
    active.restore([3, 7, 9])
    assert active.status_changed(3, 1) and not active.status_changed(7, 1) and len(active) == 3
