"""The monitor stops within a few seconds of SIGTERM or stop_after, even while a dbt Cloud request hangs."""

from __future__ import annotations

import time

import pytest
from monitor_helpers import MonitorProcess, run_monitor, small_artifacts, wait_for, write_config
from trickle_server import TrickleProxy

from airflow_provider_databand_dbt.testing.emulator import DEMO_ACCOUNT_ID, HOURLY_JOB_ID
from airflow_provider_databand_dbt.tracking.store import TrackingStore

STOP_TIMEOUT = 2
# Where the request hangs: the runs list (on the syncer thread) or one run's artifact (on a collect worker
# thread; the run itself comes with the list, so collecting it starts with its artifacts).
HANGS = {"list": r"/runs/$", "collect": r"/runs/\d+/artifacts/"}


@pytest.mark.parametrize("hang", sorted(HANGS))
def test_sigterm_stops_on_time_while_a_request_trickles(emulator, tmp_path, sqlite_url, hang):
    small = small_artifacts(tmp_path / "small")
    with TrickleProxy(emulator.url, None) as proxy:
        config = write_config(
            tmp_path / "monitor.cfg", proxy.url, sqlite_url, stop_timeout=STOP_TIMEOUT, lease_seconds=60
        )
        assert run_monitor(config, "--number-of-iterations", "1").returncode == 0  # cursor at the newest run
        emulator.add_runs(DEMO_ACCOUNT_ID, HOURLY_JOB_ID, 3, status="success", artifacts_dir=str(small))
        proxy.pattern = HANGS[hang]
        with MonitorProcess(config) as monitor:
            wait_for(proxy.trickling.is_set, 30, "a trickled request")
            time.sleep(1)
            sent = time.monotonic()
            code = monitor.terminate(timeout=60)
            took = time.monotonic() - sent
        assert code == 0, monitor.log()
        assert took < STOP_TIMEOUT + 3, f"stopped {took:.1f} s after SIGTERM:\n{monitor.log()}"
        with TrackingStore(sqlite_url) as store:
            assert store.lease_holder("main") is None  # released: a restart anywhere starts at once


def test_stop_after_is_honoured_while_a_request_trickles(emulator, tmp_path, sqlite_url):
    with TrickleProxy(emulator.url, HANGS["list"]) as proxy:
        config = write_config(tmp_path / "monitor.cfg", proxy.url, sqlite_url, stop_timeout=STOP_TIMEOUT, stop_after=2)
        started = time.monotonic()
        proc = run_monitor(config, timeout=60)
        took = time.monotonic() - started
    assert proc.returncode in (0, 1), proc.stderr
    assert took < 2 + STOP_TIMEOUT + 6, f"exited {took:.1f} s after start:\n{proc.stderr}"
    assert "abandoning it" in proc.stderr
