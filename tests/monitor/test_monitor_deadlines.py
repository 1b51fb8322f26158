"""A dbt Cloud host that trickles a run's answer: the syncer's limits cut it, and later runs are still tracked.

A timeout is not the run's fault (``monitor/errors.py``): the iteration fails and is retried after the
syncer's backoff, the cursor stays before the stuck run, and once the host answers again that run and
the later ones are all tracked. Without the deadlines the syncer would wait on the trickle for ever.
An answer announced over ``max_response_bytes`` is the run's own problem: recorded as failed, skipped.
"""

from __future__ import annotations

import time

import pytest
from monitor_helpers import (
    MonitorProcess,
    run_monitor,
    small_artifacts,
    wait_for,
    write_config,
)
from trickle_server import TrickleProxy

from airflow_provider_databand_dbt.testing.emulator import (
    DEMO_ACCOUNT_ID,
    HOURLY_JOB_ID,
)
from airflow_provider_databand_dbt.tracking.store import TrackingStore

# Which key is set to 2 s, and the words of the timeout it causes (the other limit stays at its default).
LIMITS = {
    "request_deadline": "request deadline of 2 s (request_deadline)",
    "collect_deadline": "deadline of 2 s for collecting run",
}


def _start(emulator, tmp_path, tracking_url, proxy: TrickleProxy, **syncer) -> tuple:
    """A config through ``proxy``, its cursor at the newest run, then three new runs; returns them."""
    small = small_artifacts(tmp_path / "small")
    config = write_config(tmp_path / "monitor.cfg", proxy.url, tracking_url, max_backoff=1, syncers={"main": syncer})
    proc = run_monitor(config, "--number-of-iterations", "1")
    assert proc.returncode == 0, proc.stderr
    runs = emulator.add_runs(DEMO_ACCOUNT_ID, HOURLY_JOB_ID, 3, status="success", artifacts_dir=str(small))
    # Runs listed without their steps (as dbt Cloud's spec documents the list): each run is then
    # fetched with a GET of its own, and the stuck run's GET trickles.
    emulator.set_list_related({"job", "trigger"})
    proxy.pattern = rf"/runs/{runs[0]}/$"
    return config, runs


def _tracked(tracking_url: str) -> set[int]:
    with TrackingStore(tracking_url) as store:
        return {row.run_id for row in store.list_runs(limit=100)}


@pytest.mark.parametrize("key", sorted(LIMITS))
def test_a_trickling_run_times_out_backs_off_and_later_runs_are_tracked(emulator, tmp_path, tracking_url, key):
    with TrickleProxy(emulator.url, None, every=0.5) as proxy:
        config, (stuck, *later) = _start(emulator, tmp_path, tracking_url, proxy, **{key: 2})
        with MonitorProcess(config) as monitor:
            started = time.monotonic()
            monitor.wait_for_log("iteration failed (timeout", timeout=30)
            took = time.monotonic() - started
            assert LIMITS[key] in monitor.log()
            monitor.wait_for_log("retrying in", timeout=5)
            with TrackingStore(tracking_url) as store:
                assert store.get_cursor("main").last_run_id < stuck  # nothing skipped
            proxy.pattern = None  # the host recovers
            monitor.wait_for_log("recovered after", timeout=30)
            wait_for(lambda: {stuck, *later} <= _tracked(tracking_url), 30, "the stuck run and the later ones tracked")
            with TrackingStore(tracking_url) as store:
                assert store.get_cursor("main").last_run_id == later[-1]
                assert store.list_failed_runs("main") == []
            assert monitor.terminate() == 0, monitor.log()
    assert took < 20, f"the timeout took {took:.1f} s:\n{monitor.log()}"


def test_an_answer_over_max_response_bytes_is_recorded_as_failed_and_skipped(emulator, tmp_path, tracking_url):
    with TrickleProxy(emulator.url, None, every=0.5) as proxy:
        config, (big, *later) = _start(emulator, tmp_path, tracking_url, proxy, max_response_bytes=10_000_000)
        with MonitorProcess(config) as monitor:
            monitor.wait_for_log(f"skipping run {big} for now (invalid_response", timeout=30)
            assert "over the max_response_bytes limit of 10000000 bytes" in monitor.log()
            wait_for(lambda: set(later) <= _tracked(tracking_url), 30, "the later runs tracked")
            assert monitor.terminate() == 0, monitor.log()
    with TrackingStore(tracking_url) as store:
        assert big not in {row.run_id for row in store.list_runs(limit=100)}
        assert [failed.run_id for failed in store.list_failed_runs("main")] == [big]
        assert store.get_cursor("main").last_run_id == later[-1]
