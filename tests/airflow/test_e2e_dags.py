"""End to end: every example DAG runs in a real Airflow 3 (SQLite metadata DB, ``DAG.test()`` as
``airflow dags test`` runs it) against the dbt Cloud emulator, and the tracking store is checked.

One AIRFLOW_HOME (``airflow db migrate`` once) and one long-lived Airflow process for all DAGs:
Airflow's start-up costs ~25 s on 2 cores, a DAG run afterwards a few seconds.
The emulator runs in this process; faults and lifecycles are set here between DAG runs.
"""

from __future__ import annotations

import json
import os
import queue
import re
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("airflow")

from airflow_processes import AIRFLOW_V_3, BIN, REPO
from e2e_tls_proxy import TlsProxy  # noqa: E402

from airflow_provider_databand_dbt.testing.emulator import (  # noqa: E402
    DEMO_ACCOUNT_ID,
    DEMO_TOKEN,
    HOURLY_JOB_ID,
    NIGHTLY_JOB_ID,
    DbtCloudEmulator,
    Fault,
)
from airflow_provider_databand_dbt.testing.scenarios import ARTIFACTS_DIR  # noqa: E402

RUNNER = Path(__file__).with_name("e2e_dag_runner.py")
WEB_URL = "http://127.0.0.1:9999"
DAG_RUN_TIMEOUT = 240
RUN_PATH = re.compile(r"/runs/\d+/$")
SCENARIOS = {s["name"]: s for s in json.loads((ARTIFACTS_DIR / "scenarios.json").read_text())["scenarios"]}


class AirflowSession:
    """One Airflow process running DAGs on request (see ``e2e_dag_runner.py``)."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.log_path = log_path
        self._log = log_path.open("ab")
        self._process = subprocess.Popen(
            [sys.executable, str(RUNNER)],
            env=env,
            cwd=str(REPO),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
        )
        self._lines: queue.Queue[str] = queue.Queue()
        self.ran: set[str] = set()  # DAG ids run so far, for tests that need every DAG's traces
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self._process.stdout:
            self._lines.put(line)

    def run(self, dag_id: str, conf: dict | None = None, env: dict | None = None) -> dict:
        """Run one DAG to its end; returns its state, task states and this run's log text."""
        start = self.log_path.stat().st_size
        self._process.stdin.write(json.dumps({"dag_id": dag_id, "conf": conf, "env": env or {}}) + "\n")
        self._process.stdin.flush()
        deadline = time.monotonic() + DAG_RUN_TIMEOUT
        while True:
            try:
                line = self._lines.get(timeout=max(deadline - time.monotonic(), 0.1))
            except queue.Empty:
                raise AssertionError(f"{dag_id} did not finish within {DAG_RUN_TIMEOUT}s") from None
            if line.startswith("@@RESULT "):
                result = json.loads(line[len("@@RESULT ") :])
                break
        self._log.flush()
        with self.log_path.open("rb") as log:
            log.seek(start)
            result["log"] = log.read().decode(errors="replace")
        assert "error" not in result, result.get("error")
        self.ran.add(dag_id)
        return result

    def close(self) -> None:
        self._process.stdin.close()
        try:
            self._process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._process.kill()
        self._log.close()


@pytest.fixture(scope="module")
def e2e(tmp_path_factory):
    """Emulator (+ https front), AIRFLOW_HOME with a migrated SQLite DB, and the Airflow session."""
    home = tmp_path_factory.mktemp("e2e")
    emulator = DbtCloudEmulator().start()
    emulator.set_lifecycle(1.0, 2.0)
    proxy = TlsProxy(emulator.port, home).start()
    tracking_url = f"sqlite:///{home / 'tracking.db'}"
    conn = {"conn_type": "dbt_cloud", "login": str(DEMO_ACCOUNT_ID), "password": DEMO_TOKEN}
    env = {key: value for key, value in os.environ.items() if not key.startswith(("AIRFLOW", "DATABAND_DBT"))}
    env.update(
        AIRFLOW_HOME=str(home / "airflow"),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__DAGS_FOLDER=str(REPO / "example_dags"),
        AIRFLOW_CONN_DBT_CLOUD_DEFAULT=json.dumps({**conn, "host": emulator.url}),
        AIRFLOW_CONN_DBT_CLOUD_TLS=json.dumps({**conn, "host": proxy.host}),
        # Only our proxy's certificate: nothing else is reached over TLS in these tests.
        REQUESTS_CA_BUNDLE=str(proxy.cert_path),
        SSL_CERT_FILE=str(proxy.cert_path),
        AIRFLOW__DATABAND_DBT__TRACKING_URL=tracking_url,
        AIRFLOW__DATABAND_DBT__WEB_URL=WEB_URL,
        DBT_CLOUD_CHECK_INTERVAL="1",
        DBT_CLOUD_TIMEOUT="60",
    )
    started = time.monotonic()
    subprocess.run([str(BIN / "airflow"), "db", "migrate"], env=env, check=True, capture_output=True, timeout=300)
    session = AirflowSession(env, home / "airflow-session.log")
    context = {
        "emulator": emulator,
        "env": env,
        "home": home,
        "tracking_url": tracking_url,
        "session": session,
        "metadata_db": home / "airflow" / "airflow.db",
    }
    yield context
    session.close()
    proxy.stop()
    emulator.stop()
    print(f"\nend-to-end Airflow tests took {time.monotonic() - started:.0f}s", file=sys.stderr)


@pytest.fixture()
def emulator(e2e):
    emu = e2e["emulator"]
    yield emu
    emu.clear_faults()
    emu.set_lifecycle(1.0, 2.0)
    emu.set_run_outcome(HOURLY_JOB_ID, None)
    emu.set_run_outcome(NIGHTLY_JOB_ID, None)


@pytest.fixture()
def store(e2e):
    from airflow_provider_databand_dbt.tracking.store import TrackingStore

    tracking_store = TrackingStore(e2e["tracking_url"])
    yield tracking_store
    tracking_store.close()


def _xcoms(e2e, result: dict, task_id: str, map_index: int = -1) -> dict:
    with sqlite3.connect(e2e["metadata_db"]) as db:
        rows = db.execute(
            "SELECT key, value FROM xcom WHERE dag_id = ? AND run_id = ? AND task_id = ? AND map_index = ?",
            (result["dag_id"], result["airflow_run_id"], task_id, map_index),
        ).fetchall()
    # Airflow 3 keeps JSON (SQLite hands numbers back as numbers), Airflow 2 JSON-encoded bytes.
    return {key: json.loads(value) if isinstance(value, (str, bytes)) else value for key, value in rows}


def _states(result: dict) -> dict:
    return {(t["task_id"], t["map_index"]): t["state"] for t in result["tasks"]}


def _assert_matches_scenario(report, scenario_name: str) -> None:
    scenario = SCENARIOS[scenario_name]
    assert report.status == scenario["run_status"]
    assert [step.index for step in report.steps] == [step["index"] for step in scenario["steps"]]
    for index, expected in scenario["expected"]["steps"].items():
        (step,) = [step for step in report.steps if step.index == int(index)]
        by_status: dict[str, int] = {}
        for node in step.nodes:
            by_status[node.status] = by_status.get(node.status, 0) + 1
        assert by_status == expected["by_status"], f"step {index}"


def _assert_airflow_source(source, result: dict, task_id: str, map_index: int | None = None) -> None:
    assert (source.kind, source.dag_id, source.task_id) == ("airflow", result["dag_id"], task_id)
    assert source.name == f"{result['dag_id']}.{task_id}"
    assert (source.airflow_run_id, source.try_number, source.map_index) == (result["airflow_run_id"], 1, map_index)


def test_run_and_track_succeeds_through_429_and_5xx(e2e, emulator, store):
    emulator.inject_fault(Fault(r"/runs/\d+/$", status=429, retry_after=1, times=2, method="GET"))
    emulator.inject_fault(Fault(r"/projects/\d+/$", status=429, retry_after=0.5, times=1))
    emulator.inject_fault(Fault(r"/artifacts/", status=503, times=2))
    result = e2e["session"].run("example_dbt_cloud_run_and_track")

    assert result["state"] == "success"
    xcoms = _xcoms(e2e, result, "run_and_track")
    run_id = xcoms["job_run_id"]
    summary = xcoms["tracking_summary"]
    assert (summary["run_id"], summary["status"], summary["failed_nodes"]) == (run_id, "success", [])
    assert summary["report_url"] == f"{WEB_URL}/runs/{run_id}"
    if AIRFLOW_V_3:  # Airflow 3 computes extra links on the worker and keeps them as XComs
        assert xcoms["_link_DbtCloudTrackedRunLink"] == summary["report_url"]
        assert xcoms["_link_DbtCloudRunJobOperatorLink"] == xcoms["job_run_url"]

    report = store.get_report(run_id)
    _assert_matches_scenario(report, "healthy_run")
    assert summary["node_counts"] == report.summary
    (source,) = store.list_sources(run_id)
    _assert_airflow_source(source, result, "run_and_track")
    served = {r.status for r in emulator.requests}
    assert {429, 503} <= served


def test_dbt_error_fails_the_task_and_the_run_is_tracked(e2e, emulator, store):
    result = e2e["session"].run("example_dbt_cloud_run_and_track", conf={"job_id": NIGHTLY_JOB_ID})

    assert result["state"] == "failed"
    assert _states(result) == {("run_and_track", -1): "failed", ("report", -1): "upstream_failed"}
    summary = _xcoms(e2e, result, "run_and_track")["tracking_summary"]
    report = store.get_report(summary["run_id"])
    _assert_matches_scenario(report, "nightly_build")
    failed = report.failed_nodes()
    assert sorted(summary["failed_nodes"]) == sorted(node.unique_id for node in failed) and failed
    for node in failed:
        assert f"dbt node {node.unique_id} {node.status} (step " in result["log"]
    _assert_airflow_source(store.list_sources(summary["run_id"])[0], result, "run_and_track")


def test_cancelled_run_fails_the_task_and_is_tracked(e2e, emulator, store):
    emulator.set_run_outcome(HOURLY_JOB_ID, "cancelled")
    result = e2e["session"].run("example_dbt_cloud_run_and_track")

    assert _states(result)[("run_and_track", -1)] == "failed"
    summary = _xcoms(e2e, result, "run_and_track")["tracking_summary"]
    assert summary["status"] == "cancelled"
    assert store.get_report(summary["run_id"]).status == "cancelled"


def test_wait_timeout_fails_the_task_and_tracks_the_running_run(e2e, emulator, store):
    emulator.set_lifecycle(0.5, 120.0)
    result = e2e["session"].run("example_dbt_cloud_run_and_track", env={"DBT_CLOUD_TIMEOUT": "3"})

    assert _states(result)[("run_and_track", -1)] == "failed"
    assert "has not reached a terminal status after 3 seconds" in result["log"]
    summary = _xcoms(e2e, result, "run_and_track")["tracking_summary"]
    assert summary["status"] == "running"
    assert store.get_report(summary["run_id"]).status == "running"


def _inject_after_first_poll(emulator, fault: Fault) -> threading.Thread:
    """Inject ``fault`` once the task has checked the run's status once, i.e. when it defers."""
    start = len(emulator.requests)

    def watch() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if any(r.method == "GET" and RUN_PATH.search(r.path) for r in emulator.requests[start:]):
                emulator.inject_fault(fault)
                return
            time.sleep(0.02)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    return watcher


def test_deferrable_polls_in_the_trigger_through_429s_and_tracks_on_resume(e2e, emulator, store):
    emulator.set_lifecycle(1.0, 4.0)
    watcher = _inject_after_first_poll(
        emulator, Fault(RUN_PATH.pattern, status=429, retry_after=0.5, times=2, method="GET")
    )
    result = e2e["session"].run("example_dbt_cloud_run_and_track_deferrable")
    watcher.join()

    assert result["state"] == "success"
    assert "running trigger in line" in result["log"]
    # The hook's retry (the dbt Cloud client's policy) logs through the hook, into the task log.
    triggerer_log = result["log"].split("running trigger in line", 1)[1]
    assert re.search(r"dbt Cloud GET run status failed \(HTTP 429\); retrying in 0\.5 s", triggerer_log)
    summary = _xcoms(e2e, result, "run_and_track")["tracking_summary"]
    _assert_matches_scenario(store.get_report(summary["run_id"]), "healthy_run")
    _assert_airflow_source(store.list_sources(summary["run_id"])[0], result, "run_and_track")


def test_provider_operator_then_our_sensor_over_https(e2e, emulator, store):
    before = len(emulator.requests)
    result = e2e["session"].run("example_dbt_cloud_trigger_then_sense", env={"DBT_CLOUD_CONN_ID": "dbt_cloud_tls"})
    assert result["state"] == "success"
    run_id = _xcoms(e2e, result, "trigger_job")["job_run_id"]
    _assert_matches_scenario(store.get_report(run_id), "healthy_run")
    (source,) = store.list_sources(run_id)
    _assert_airflow_source(source, result, "wait_and_track")
    assert any(
        r.method == "POST" and r.path.endswith(f"/jobs/{HOURLY_JOB_ID}/run/") for r in emulator.requests[before:]
    )


def test_tracked_by_the_operator_and_again_by_the_sensor_is_one_run_with_two_sources(e2e, emulator, store):
    emulator.set_lifecycle(2.0, 2.0)
    result = e2e["session"].run("example_dbt_cloud_track_then_sense")

    assert result["state"] == "success"
    run_id = _xcoms(e2e, result, "trigger_and_track")["job_run_id"]
    assert _xcoms(e2e, result, "trigger_and_track")["tracking_summary"]["status"] in ("queued", "starting")
    assert _xcoms(e2e, result, "wait_and_track")["tracking_summary"]["status"] == "success"
    assert store.get_report(run_id).status == "success"
    first, second = store.list_sources(run_id)
    _assert_airflow_source(first, result, "trigger_and_track")
    _assert_airflow_source(second, result, "wait_and_track")
    assert [run.run_id for run in store.list_runs(limit=500)].count(run_id) == 1


def test_hook_collect_run_in_a_task(e2e, emulator, store):
    result = e2e["session"].run("example_dbt_cloud_hook_collect_run", conf={"job_id": NIGHTLY_JOB_ID})

    assert result["state"] == "success"
    run_id = _xcoms(e2e, result, "latest_finished_run")["return_value"]
    assert run_id >= emulator.seeded_runs[NIGHTLY_JOB_ID][-1]  # earlier tests triggered newer ones
    assert emulator.run_status(run_id) == 20
    returned = _xcoms(e2e, result, "collect")["return_value"]
    assert (returned["run_id"], returned["status"]) == (run_id, "error")
    _assert_matches_scenario(store.get_report(run_id), "nightly_build")
    _assert_airflow_source(store.list_sources(run_id)[-1], result, "collect")


def test_mapped_task_tracks_each_job(e2e, emulator, store):
    result = e2e["session"].run("example_dbt_cloud_mapped_run_and_track")

    assert result["state"] == "failed"  # default jobs: 101 succeeds, 100 errors
    states = _states(result)
    assert (states[("run_and_track", 0)], states[("run_and_track", 1)]) == ("success", "failed")
    for map_index, (job_id, scenario) in enumerate([(HOURLY_JOB_ID, "healthy_run"), (NIGHTLY_JOB_ID, "nightly_build")]):
        summary = _xcoms(e2e, result, "run_and_track", map_index)["tracking_summary"]
        assert summary["job_id"] == job_id
        _assert_matches_scenario(store.get_report(summary["run_id"]), scenario)
        (source,) = store.list_sources(summary["run_id"])
        _assert_airflow_source(source, result, "run_and_track", map_index)


def test_airflow_cli_knows_the_provider_and_its_config(e2e):
    providers = subprocess.run(
        [str(BIN / "airflow"), "providers", "list", "-o", "json"],
        env=e2e["env"],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    listed = {p["package_name"] for p in json.loads(providers.stdout[providers.stdout.index("[") :])}
    assert "airflow-provider-databand-dbt" in listed
    value = subprocess.run(
        [str(BIN / "airflow"), "config", "get-value", "databand_dbt", "web_url"],
        env=e2e["env"],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert value.stdout.strip().splitlines()[-1] == WEB_URL


def test_databand_dbt_show_lists_a_run_tracked_from_airflow(e2e, emulator):
    result = e2e["session"].run("example_dbt_cloud_run_and_track", conf={"job_id": NIGHTLY_JOB_ID})
    run_id = _xcoms(e2e, result, "run_and_track")["tracking_summary"]["run_id"]
    shown = subprocess.run(
        [str(BIN / "databand-dbt"), "show", str(run_id)],
        env={**e2e["env"], "DATABAND_DBT_TRACKING_URL": e2e["tracking_url"]},
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert str(run_id) in shown.stdout
    assert "error" in shown.stdout


def _text(value: bytes) -> str:
    return value.decode(errors="replace")


@pytest.fixture()
def every_example_dag_ran(e2e, emulator):
    """Run each example DAG this session has not run yet, so a test run alone sees every DAG's traces."""
    for path in sorted((REPO / "example_dags").glob("example_*.py")):
        if path.stem not in e2e["session"].ran:
            e2e["session"].run(path.stem)


def test_the_token_is_nowhere(e2e, store, every_example_dag_ran):
    """Logs, XComs, rendered template fields and the tracking store never contain the API token."""
    texts = {"session log": e2e["session"].log_path.read_text(errors="replace")}
    for path in (e2e["home"] / "airflow" / "logs").rglob("*"):
        if path.is_file():
            texts[str(path)] = path.read_text(errors="replace")
    with sqlite3.connect(e2e["metadata_db"]) as db:
        xcoms = db.execute("SELECT dag_id, task_id, key, value FROM xcom").fetchall()
        rendered = db.execute("SELECT dag_id, task_id, rendered_fields FROM rendered_task_instance_fields").fetchall()
    texts["xcom"] = json.dumps(xcoms, default=_text)
    texts["rendered fields"] = json.dumps(rendered, default=_text)
    import sqlalchemy as sa

    with store.engine.connect() as conn:
        for table in sa.inspect(conn).get_table_names():
            texts[f"store {table}"] = repr(conn.execute(sa.text(f'SELECT * FROM "{table}"')).fetchall())

    assert len(xcoms) > 20 and len(rendered) > 10 and len(texts["session log"]) > 10_000
    assert "job_run_id" in texts["xcom"] and "tracking_summary" in texts["xcom"]
    leaks = [name for name, text in texts.items() if DEMO_TOKEN in text]
    assert leaks == []
