"""``databand-dbt monitor`` as a real subprocess against the emulator over real HTTP, asserting the store."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
from monitor_helpers import MonitorProcess, monitor_env, run_monitor, wait_for, write_config

from airflow_provider_databand_dbt.model.status import status_label
from airflow_provider_databand_dbt.testing.emulator import DEMO_ACCOUNT_ID, DEMO_TOKEN, HOURLY_JOB_ID, NIGHTLY_JOB_ID
from airflow_provider_databand_dbt.tracking.store import TrackingStore

THIRD_JOB_ID = 102


@pytest.fixture()
def emulator3(emulator):
    """The demo account with a third job and runs in every state (queued and running held there)."""
    emulator.add_job(DEMO_ACCOUNT_ID, THIRD_JOB_ID, "Third job")
    for status in ("success", "error", "cancelled"):
        emulator.add_run(DEMO_ACCOUNT_ID, THIRD_JOB_ID, status=status)
    for status in ("queued", "running"):
        run_id = emulator.add_run(DEMO_ACCOUNT_ID, THIRD_JOB_ID, status=status)
        emulator.set_run_status(run_id, status)
    return emulator


def emulator_runs(emulator) -> dict[int, str]:
    return {run_id: status_label(emulator.run_status(run_id)) for run_id in emulator.state.runs}


def stored_runs(store: TrackingStore) -> dict[int, str]:
    return {row.run_id: row.status for row in store.list_runs(limit=100_000)}


def test_backfill_tracks_runs_in_every_state(emulator3, tmp_path, sqlite_url):
    config = write_config(tmp_path / "monitor.cfg", emulator3.url, sqlite_url, syncers={"main": {"backfill": "30d"}})
    proc = run_monitor(config, "--number-of-iterations", "2")
    assert proc.returncode == 0, proc.stderr
    expected = emulator_runs(emulator3)
    assert {"queued", "running", "success", "error", "cancelled"} <= set(expected.values())
    assert len({emulator3.state.runs[r].job_id for r in expected}) == 3
    with TrackingStore(sqlite_url) as store:
        assert stored_runs(store) == expected
        nightly = max(r for r in expected if emulator3.state.runs[r].job_id == NIGHTLY_JOB_ID)
        report = store.get_report(nightly)
        assert report.job_name == "Nightly build" and report.project_name == "Jaffle shop"
        assert report.summary.get("error") == 1 and report.summary.get("fail") == 1
        assert [(s.kind, s.name) for s in store.list_sources(nightly)] == [("monitor", "main")]
        cursor = store.get_cursor("main")
    assert cursor.last_run_id == max(expected) and cursor.backfill_done
    assert sorted(cursor.active_run_ids) == sorted(r for r, s in expected.items() if s in ("queued", "running"))
    # One log line per tracked run, with the job, run id, status and counts.
    tracked = [line for line in proc.stderr.splitlines() if "tracked run" in line]
    assert len(tracked) == len(expected)
    assert any(
        f"tracked run {nightly} of job {NIGHTLY_JOB_ID} (Nightly build): error, error=1 fail=1" in line
        for line in tracked
    )


def test_first_start_without_backfill_skips_history_but_tracks_runs_in_progress(emulator3, tmp_path, sqlite_url):
    config = write_config(tmp_path / "monitor.cfg", emulator3.url, sqlite_url)
    proc = run_monitor(config, "--number-of-iterations", "1")
    assert proc.returncode == 0, proc.stderr
    expected = {r: s for r, s in emulator_runs(emulator3).items() if s in ("queued", "running")}
    with TrackingStore(sqlite_url) as store:
        assert stored_runs(store) == expected
        assert store.get_cursor("main").last_run_id == max(emulator3.state.runs)


def test_new_runs_and_status_changes_while_running(emulator3, tmp_path, sqlite_url):
    queued = [r for r, s in emulator_runs(emulator3).items() if s == "queued"][0]
    running = [r for r, s in emulator_runs(emulator3).items() if s == "running"][0]
    config = write_config(tmp_path / "monitor.cfg", emulator3.url, sqlite_url, interval=0.2)
    with TrackingStore(sqlite_url) as store, MonitorProcess(config) as monitor:
        wait_for(lambda: stored_runs(store).get(running) == "running", 30, "the running run to be tracked")
        new_ids = emulator3.add_runs(DEMO_ACCOUNT_ID, HOURLY_JOB_ID, 3, status="success")
        emulator3.set_run_status(running, "success")
        emulator3.set_run_status(queued, "running")
        wait_for(
            lambda: all(stored_runs(store).get(r) == "success" for r in [*new_ids, running]),
            30,
            "new runs and the finished run",
        )
        wait_for(lambda: stored_runs(store).get(queued) == "running", 30, "queued -> running")
        assert monitor.terminate() == 0, monitor.log()
        finished = store.get_report(running)
        assert finished.status == "success" and finished.summary.get("success")
        assert stored_runs(store) == {
            r: s for r, s in emulator_runs(emulator3).items() if r in (queued, running, *new_ids)
        }
        cursor = store.get_cursor("main")
        assert cursor.last_run_id == max(new_ids) and cursor.active_run_ids == [queued]
    assert "received SIGTERM" in monitor.log()


def test_stop_after_is_honoured_within_one_interval(emulator, tmp_path, sqlite_url):
    config = write_config(tmp_path / "monitor.cfg", emulator.url, sqlite_url, interval=1)
    with MonitorProcess(config, "--stop-after", "1.5") as monitor:
        monitor.wait_for_log("monitoring 1 syncer")
        started = time.monotonic()
        assert monitor.wait(30) == 0, monitor.log()
        elapsed = time.monotonic() - started
    assert elapsed < 1.5 + 1 + 1.0, elapsed  # stop_after + one interval + process exit
    assert "stop_after of 1.5 s reached" in monitor.log()


def test_one_failing_account_does_not_stop_the_others(emulator, tmp_path, sqlite_url):
    config = write_config(
        tmp_path / "monitor.cfg",
        emulator.url,
        sqlite_url,
        syncers={
            "good": {"backfill": "30d"},
            "bad": {"api_token_env": "BAD_TOKEN"},
        },
    )
    proc = run_monitor(
        config, "--number-of-iterations", "3", env=monitor_env(BAD_TOKEN="dbtc_wrong_token_for_this_test_12345")
    )
    assert proc.returncode == 1, proc.stderr  # the last iteration of a syncer failed
    with TrackingStore(sqlite_url) as store:
        assert set(stored_runs(store)) == set(emulator.state.runs)
        assert store.get_cursor("bad") is None
    assert "syncer bad: iteration failed (auth:" in proc.stderr
    assert "dbtc_wrong_token" not in proc.stderr and DEMO_TOKEN not in proc.stderr


def test_idle_iterations_cost_one_list_request(emulator, tmp_path, sqlite_url):
    config = write_config(tmp_path / "monitor.cfg", emulator.url, sqlite_url, interval=0.1, lease_seconds=30)
    proc = run_monitor(config, "--number-of-iterations", "6")
    assert proc.returncode == 0, proc.stderr
    calls = [(r.method, r.path, r.query.get("status__in")) for r in emulator.requests]
    runs_path = f"/api/v2/accounts/{DEMO_ACCOUNT_ID}/runs/"
    # First start: the newest page and the in-progress runs; then one list request per idle iteration.
    assert calls == [("GET", runs_path, None), ("GET", runs_path, "[1,2,3]")] + [("GET", runs_path, None)] * 5
    assert {r.query.get("order_by") for r in emulator.requests} == {"-id"}


def test_job_filters_list_once_per_job(emulator, tmp_path, sqlite_url):
    config = write_config(
        tmp_path / "monitor.cfg",
        emulator.url,
        sqlite_url,
        syncers={"main": {"job_ids": f"{NIGHTLY_JOB_ID}", "backfill": "30d"}},
    )
    proc = run_monitor(config, "--number-of-iterations", "2")
    assert proc.returncode == 0, proc.stderr
    with TrackingStore(sqlite_url) as store:
        assert {row.job_id for row in store.list_runs(limit=100)} == {NIGHTLY_JOB_ID}
    lists = [r for r in emulator.requests if r.path.endswith("/runs/")]
    assert {r.query.get("job_definition_id") for r in lists} == {str(NIGHTLY_JOB_ID)}


@pytest.mark.parametrize(
    ("interval", "iterations", "message"),
    [
        # The client's retry budget (2 intervals) covers the wait: it sleeps and retries the request.
        (1, "1", "retrying in 1.5 s (attempt 2"),
        # It does not: the syncer backs off for at least Retry-After and polls again.
        (0.3, "2", "iteration failed (rate_limited:"),
    ],
    ids=["client-retry", "syncer-backoff"],
)
def test_rate_limit_retry_after_is_honoured(emulator, tmp_path, sqlite_url, interval, iterations, message):
    from airflow_provider_databand_dbt.testing.emulator import Fault

    emulator.inject_fault(Fault(path_pattern=r"/runs/$", status=429, retry_after=1.5, times=1))
    config = write_config(tmp_path / "monitor.cfg", emulator.url, sqlite_url, interval=interval)
    started = time.monotonic()
    proc = run_monitor(config, "--number-of-iterations", iterations)
    assert proc.returncode == 0, proc.stderr
    assert time.monotonic() - started >= 1.5
    assert [r.status for r in emulator.requests][:2] == [429, 200]
    assert message in proc.stderr, proc.stderr


def test_json_log_format(emulator, tmp_path, sqlite_url):
    config = write_config(tmp_path / "monitor.cfg", emulator.url, sqlite_url, syncers={"main": {"backfill": "30d"}})
    proc = run_monitor(config, "--number-of-iterations", "1", "--log-format", "json")
    assert proc.returncode == 0, proc.stderr
    records = [json.loads(line) for line in proc.stderr.splitlines() if line.strip()]
    tracked = [r for r in records if r["message"].startswith("tracked run")]
    assert len(tracked) == len(emulator.state.runs)
    assert {r["syncer"] for r in tracked} == {"main"}
    assert {r["run_id"] for r in tracked} == set(emulator.state.runs)
    assert all(isinstance(r["counts"], dict) and r["status"] in ("success", "error") for r in tracked)


def test_monitor_never_imports_airflow(emulator, tmp_path, sqlite_url):
    config = write_config(tmp_path / "monitor.cfg", emulator.url, sqlite_url, syncers={"main": {"backfill": "30d"}})
    code = (
        "import sys\n"
        "from airflow_provider_databand_dbt.cli.main import main\n"
        f"rc = main(['monitor', '--config', {str(config)!r}, '--number-of-iterations', '1'])\n"
        "loaded = sorted(m for m in sys.modules if m == 'airflow' or m.startswith('airflow.'))\n"
        "print('AIRFLOW_MODULES', loaded)\n"
        "sys.exit(rc)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=monitor_env())
    assert proc.returncode == 0, proc.stderr
    assert "AIRFLOW_MODULES []" in proc.stdout, proc.stdout
    with TrackingStore(sqlite_url) as store:
        assert store.count_runs() == len(emulator.state.runs)


@pytest.mark.parametrize(
    ("fault", "kind"),
    [({"status": 404}, "not_found"), ({"kind": "corrupt"}, "invalid_response")],
    ids=["deleted", "corrupt"],
)
def test_a_run_that_cannot_be_read_is_skipped_not_blocking(emulator, tmp_path, sqlite_url, fault, kind):
    from airflow_provider_databand_dbt.testing.emulator import Fault

    config = write_config(tmp_path / "monitor.cfg", emulator.url, sqlite_url, interval=0.1, max_backoff=0.2)
    assert run_monitor(config, "--number-of-iterations", "1").returncode == 0
    first, broken, last = emulator.add_runs(DEMO_ACCOUNT_ID, HOURLY_JOB_ID, 3, status="success")
    emulator.set_list_related({"job", "trigger"})  # runs listed without steps: each one is fetched by a GET
    emulator.inject_fault(Fault(path_pattern=rf"/runs/{broken}/$", **fault))
    proc = run_monitor(config, "--number-of-iterations", "5")
    assert proc.returncode == 0, proc.stderr
    with TrackingStore(sqlite_url) as store:
        assert set(stored_runs(store)) == {first, last}
        assert store.get_cursor("main").last_run_id == last
        [failed] = store.list_failed_runs("main")
    assert (failed.run_id, failed.error_kind) == (broken, kind)
    assert f"skipping run {broken} for now ({kind}" in proc.stderr  # at once: the first iteration moves on
