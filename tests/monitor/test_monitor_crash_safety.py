"""Crash safety and coexistence: kill -9 mid catch-up, SIGTERM, two monitors on one store, Airflow + monitor."""

from __future__ import annotations

import signal

import pytest
import sqlalchemy as sa
from monitor_helpers import MonitorProcess, run_monitor, wait_for, write_config

from airflow_provider_databand_dbt import collect_data_from_dbt_cloud
from airflow_provider_databand_dbt.model.source import TrackingSource
from airflow_provider_databand_dbt.testing.emulator import DEMO_ACCOUNT_ID, DEMO_TOKEN, HOURLY_JOB_ID
from airflow_provider_databand_dbt.tracking.schema import runs, sources
from airflow_provider_databand_dbt.tracking.store import TrackingStore


def run_counts(store: TrackingStore) -> dict[int, tuple[int, int]]:
    """run id -> (rows with that id, monitor source rows), straight from the tables."""
    query = (
        sa.select(
            runs.c.run_id,
            sa.func.count(sa.distinct(runs.c.id)),
            sa.func.count(sources.c.id).filter(sources.c.kind == "monitor"),
        )
        .select_from(runs.outerjoin(sources, sources.c.run_pk == runs.c.id))
        .group_by(runs.c.run_id)
    )
    with store.engine.connect() as conn:
        return {run_id: (rows, monitor_sources) for run_id, rows, monitor_sources in conn.execute(query)}


def start_cursor(config) -> None:
    """A first start without backfill: the cursor sits at the newest existing run."""
    proc = run_monitor(config, "--number-of-iterations", "1")
    assert proc.returncode == 0, proc.stderr


def test_kill_9_mid_catch_up_then_restart_tracks_each_run_once(emulator, tmp_path, sqlite_url, small_dir):
    config = write_config(tmp_path / "monitor.cfg", emulator.url, sqlite_url, interval=0.2)
    start_cursor(config)
    new_ids = emulator.add_runs(
        DEMO_ACCOUNT_ID, HOURLY_JOB_ID, 200, status="success", artifacts_dir=str(small_dir), interval_seconds=1
    )
    with TrackingStore(sqlite_url) as store:
        with MonitorProcess(config) as monitor:
            wait_for(lambda: store.count_runs() >= 40, 60, "40 runs of the catch-up")
            monitor.kill()
        stored_after_kill = store.count_runs()
        cursor = store.get_cursor("main")
        assert stored_after_kill < 200 and cursor.last_run_id < max(new_ids), "the kill came too late to test anything"
        proc = run_monitor(config, "--number-of-iterations", "2")
        assert proc.returncode == 0, proc.stderr
        counts = run_counts(store)
        assert sorted(counts) == sorted(new_ids)  # exactly the 200 runs, nothing lost
        assert {rows for rows, _ in counts.values()} == {1}  # no duplicated run
        # Only a run stored just before the kill (cursor not yet saved) may be sighted twice.
        assert sum(1 for _, seen in counts.values() if seen > 1) <= 1
        assert store.get_cursor("main").last_run_id == max(new_ids)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_finishes_the_current_run_and_exits_0(emulator, tmp_path, sqlite_url, small_dir, signum):
    config = write_config(tmp_path / "monitor.cfg", emulator.url, sqlite_url, interval=0.2)
    start_cursor(config)
    new_ids = emulator.add_runs(DEMO_ACCOUNT_ID, HOURLY_JOB_ID, 80, status="success", artifacts_dir=str(small_dir))
    with TrackingStore(sqlite_url) as store:
        with MonitorProcess(config) as monitor:
            wait_for(lambda: store.count_runs() >= 10, 60, "10 runs of the catch-up")
            monitor.proc.send_signal(signum)
            assert monitor.wait(15) == 0, monitor.log()
        cursor = store.get_cursor("main")
        stored = set(run_counts(store))
        assert 10 <= len(stored) < 80
        # The cursor covers exactly what was stored: the next start continues right after it.
        assert stored == {run_id for run_id in new_ids if run_id <= cursor.last_run_id}
    assert "runs left for the next start" in monitor.log()


@pytest.mark.parametrize("lease_seconds", [30, 0], ids=["lease", "no-lease"])
def test_two_monitors_on_one_store_do_not_double_track(emulator, tmp_path, tracking_url, small_dir, lease_seconds):
    emulator.add_runs(DEMO_ACCOUNT_ID, HOURLY_JOB_ID, 30, status="success", artifacts_dir=str(small_dir))
    config = write_config(
        tmp_path / "monitor.cfg",
        emulator.url,
        tracking_url,
        interval=0.2,
        lease_seconds=lease_seconds,
        syncers={"main": {"backfill": "30d"}},
    )
    TrackingStore(tracking_url).close()  # create the schema once, before the race
    first = MonitorProcess(config, "--number-of-iterations", "3", log_path=tmp_path / "first.log")
    second = MonitorProcess(config, "--number-of-iterations", "3", log_path=tmp_path / "second.log")
    with first, second:
        assert first.wait(120) == 0, first.log()
        assert second.wait(120) == 0, second.log()
    with TrackingStore(tracking_url) as store:
        counts = run_counts(store)
    assert sorted(counts) == sorted(emulator.state.runs)
    assert {rows for rows, _ in counts.values()} == {1}
    if lease_seconds:
        # With the lease only one monitor polls: each run is sighted once, by one process.
        assert {seen for _, seen in counts.values()} == {1}
        tracked = [log.count("tracked run") for log in (first.log(), second.log())]
        assert sorted(tracked) == [0, len(counts)]


def test_airflow_and_monitor_on_the_same_run_make_one_run_with_two_sources(emulator, tmp_path, sqlite_url):
    before, after = sorted(emulator.state.runs)[:2]
    airflow = TrackingSource(
        kind="airflow", dag_id="dbt_cloud", task_id="run_job", airflow_run_id="manual__1", try_number=1
    )

    def operator_collect(run_id):  # what DbtCloudRunAndTrackOperator does after the run finished
        collect_data_from_dbt_cloud(
            DEMO_ACCOUNT_ID, DEMO_TOKEN, run_id, emulator.url, tracking_url=sqlite_url, source=airflow
        )

    operator_collect(before)
    config = write_config(tmp_path / "monitor.cfg", emulator.url, sqlite_url, syncers={"main": {"backfill": "30d"}})
    proc = run_monitor(config, "--number-of-iterations", "1")
    assert proc.returncode == 0, proc.stderr
    operator_collect(after)
    with TrackingStore(sqlite_url) as store:
        assert store.count_runs() == len(emulator.state.runs)
        assert [s.kind for s in store.list_sources(before)] == ["airflow", "monitor"]
        assert [s.kind for s in store.list_sources(after)] == ["monitor", "airflow"]
        assert [s.name for s in store.list_sources(before) if s.kind == "monitor"] == ["main"]
        row = next(r for r in store.list_runs(limit=100) if r.run_id == before)
        assert sorted(row.source_kinds) == ["airflow", "monitor"]
        assert run_counts(store)[before] == (1, 1)
