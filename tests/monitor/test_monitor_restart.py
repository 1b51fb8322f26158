"""A monitor SIGKILLed mid catch-up and restarted on the same host takes its dead lease over at once."""

from __future__ import annotations

import os
import subprocess
import sys

from monitor_helpers import MonitorProcess, run_monitor, wait_for, write_config
from test_monitor_crash_safety import run_counts

from airflow_provider_databand_dbt.monitor.owner import holder_is_dead, lease_owner
from airflow_provider_databand_dbt.testing.emulator import DEMO_ACCOUNT_ID, HOURLY_JOB_ID
from airflow_provider_databand_dbt.tracking.store import TrackingStore

RUNS = 300


def test_restart_after_kill_9_resumes_at_once_and_tracks_each_run_once(emulator, tmp_path, tracking_url, small_dir):
    # The default 60 s lease: without the take-over, each restart would stand by for a minute.
    config = write_config(tmp_path / "monitor.cfg", emulator.url, tracking_url, interval=0.2, lease_seconds=60)
    assert run_monitor(config, "--number-of-iterations", "1").returncode == 0
    new_ids = emulator.add_runs(
        DEMO_ACCOUNT_ID, HOURLY_JOB_ID, RUNS, status="success", artifacts_dir=str(small_dir), interval_seconds=1
    )
    with TrackingStore(tracking_url) as store:
        for share in (0.2, 0.6):
            with MonitorProcess(config, log_path=tmp_path / f"kill-{share}.log") as monitor:
                target = int(share * RUNS)
                wait_for(lambda target=target: store.count_runs() >= target, 90, f"{share:.0%} of the catch-up")
                monitor.kill()
            assert store.count_runs() < RUNS, "the kill came too late to test anything"
            assert store.lease_holder("main") is not None  # SIGKILL: the lease was not released
        proc = run_monitor(config, "--number-of-iterations", "4", timeout=120)
        assert proc.returncode == 0, proc.stderr
        assert "took over the lease" in proc.stderr
        counts = run_counts(store)
        assert sorted(counts) == sorted(new_ids)  # all 300, nothing lost
        assert {rows for rows, _ in counts.values()} == {1}  # none duplicated
        assert store.get_cursor("main").last_run_id == max(new_ids)
        assert store.lease_holder("main") is None  # released on a normal exit


def test_only_a_provably_dead_holder_on_this_host_is_dead():
    me = lease_owner()
    host, pid, start, _ = me.split(":")
    assert not holder_is_dead(me)  # this very process
    assert not holder_is_dead(f"other-host:{pid}:{start}:abcd")  # another host: cannot tell, wait for expiry
    assert not holder_is_dead("garbage")
    if "/" in host:  # same hostname, another PID namespace (containers with host networking): cannot tell
        assert not holder_is_dead(f"{host.split('/')[0]}/1:{pid}9:{start}:abcd")
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()  # reaped: its pid is gone
    assert holder_is_dead(f"{host}:{child.pid}:123:abcd")
    assert holder_is_dead(f"{host}:{child.pid}:abcd")  # the older host:pid:random format
    # Our pid with another start time: a previous incarnation (a container restarted as pid 1 again).
    assert holder_is_dead(f"{host}:{os.getpid()}:{int(start) - 1}:abcd")
