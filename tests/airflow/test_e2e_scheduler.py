"""End to end as users run Airflow: real scheduler, triggerer (and on Airflow 3 dag-processor and
api-server), DAG runs started with ``airflow dags trigger``, against the dbt Cloud emulator.

``airflow dags test`` (test_e2e_dags.py) runs triggers in-process and never retries or
reschedules; this module covers what only the real components do: the triggerer polling a
deferred task, a sensor in reschedule mode, and a retry with try_number 2. One Airflow
installation serves all tests; the three DAG runs are triggered together and run concurrently.
"""

from __future__ import annotations

import ast
import shutil
import time
from pathlib import Path

import pytest

pytest.importorskip("airflow")

from airflow_processes import AIRFLOW_V_3, REPO, AirflowHome

from airflow_provider_databand_dbt.testing.emulator import (
    DEMO_ACCOUNT_ID,
    DEMO_TOKEN,
    HOURLY_JOB_ID,
    NIGHTLY_JOB_ID,
    DbtCloudEmulator,
)

HERE = Path(__file__).parent
DEFERRABLE = "example_dbt_cloud_run_and_track_deferrable"
RESCHEDULE = "e2e_dbt_cloud_reschedule_sensor"
RETRY = "e2e_dbt_cloud_retry"
RUN_TIMEOUT = 150
# An executor event can reach the scheduler this long after its task ended (Airflow 3's supervisor
# notices the exit within [workers] min_heartbeat_interval; 5.3-5.8 s measured on 2 busy cores).
LATE_EXECUTOR_EVENT_SECONDS = 5


@pytest.fixture(scope="module")
def airflow(tmp_path_factory):
    """Emulator + a running Airflow with the three DAG runs triggered; everything stopped afterwards."""
    root = tmp_path_factory.mktemp("e2e-scheduler")
    dags = root / "dags"
    dags.mkdir()
    shutil.copy(REPO / "example_dags" / f"{DEFERRABLE}.py", dags)
    for name in (RESCHEDULE, RETRY):
        shutil.copy(HERE / "e2e_dags" / f"{name}.py", dags)
    emulator = DbtCloudEmulator().start()
    emulator.set_lifecycle(2.0, 3.0)  # long enough for the sensor to reschedule at least once
    tracking_url = f"sqlite:///{root / 'tracking.db'}"
    home = AirflowHome(
        root,
        dags,
        {
            "AIRFLOW__DATABAND_DBT__TRACKING_URL": tracking_url,
            "DBT_CLOUD_CHECK_INTERVAL": "1",
            "DBT_CLOUD_TIMEOUT": "120",
        },
    )
    started = time.monotonic()
    try:
        home.setup(emulator_url=emulator.url, account_id=DEMO_ACCOUNT_ID, token=DEMO_TOKEN)
        home.start()
        home.wait_for_dags([DEFERRABLE, RESCHEDULE, RETRY])
        runs = {dag_id: home.trigger(dag_id) for dag_id in (DEFERRABLE, RESCHEDULE, RETRY)}
        yield {"home": home, "runs": runs, "tracking_url": tracking_url, "emulator": emulator}
    finally:
        home.stop()
        emulator.stop()
        print(f"\nscheduler end-to-end tests took {time.monotonic() - started:.0f}s")


@pytest.fixture(scope="module")
def store(airflow):
    from airflow_provider_databand_dbt.tracking.store import TrackingStore

    tracking_store = TrackingStore(airflow["tracking_url"])
    yield tracking_store
    tracking_store.close()


def _finished(airflow, dag_id: str) -> str:
    home = airflow["home"]
    run_id = airflow["runs"][dag_id]
    state = home.wait_for_run(dag_id, run_id, RUN_TIMEOUT)
    assert state == "success", f"{dag_id}: {state}, {home.failure_report(dag_id, run_id)}"
    return run_id


def _airflow_sources(store, run_id: int) -> list:
    return [source for source in store.list_sources(run_id) if source.kind == "airflow"]


def test_deferrable_operator_completes_through_the_triggerer(airflow, store):
    airflow_run_id = _finished(airflow, DEFERRABLE)
    home = airflow["home"]

    run_id = home.xcom(DEFERRABLE, airflow_run_id, "run_and_track", "job_run_id")
    assert store.get_report(run_id).status == "success"
    (source,) = _airflow_sources(store, run_id)
    assert (source.dag_id, source.task_id, source.airflow_run_id, source.try_number) == (
        DEFERRABLE,
        "run_and_track",
        airflow_run_id,
        1,
    )
    assert home.xcom(DEFERRABLE, airflow_run_id, "run_and_track", "tracking_summary")["status"] == "success"
    # The wait happened in the triggerer: it writes its own log next to the task's, ending in our event.
    trigger_logs = list((home.root / "airflow" / "logs").glob(f"dag_id={DEFERRABLE}/**/attempt=1.log.trigger.*.log"))
    assert trigger_logs, "the triggerer wrote no log for the deferred task"
    assert f"Job run {run_id} has completed successfully." in trigger_logs[0].read_text()
    assert home.query("SELECT COUNT(*) FROM trigger")[0][0] == 0  # fired and cleaned up


def test_sensor_in_reschedule_mode_completes(airflow, store):
    airflow_run_id = _finished(airflow, RESCHEDULE)
    home = airflow["home"]

    run_id = home.xcom(RESCHEDULE, airflow_run_id, "trigger_job", "job_run_id")
    assert store.get_report(run_id).status == "success"
    first, second = _airflow_sources(store, run_id)  # triggered (queued), then waited for (finished)
    assert [(s.task_id, s.airflow_run_id) for s in (first, second)] == [
        ("trigger_job", airflow_run_id),
        ("wait_and_track", airflow_run_id),
    ]
    assert home.query("SELECT COUNT(*) FROM task_reschedule")[0][0] >= 1  # it gave its slot back at least once


def test_reschedule_pokes_are_further_apart_than_a_late_executor_event():
    """A poke's late executor event, seen while the next poke of the same try is queued, fails the sensor
    (apache/airflow#71172): the e2e DAG must poke less often than twice that delay, or it fails now and then.
    """
    from airflow.configuration import conf

    late = max(LATE_EXECUTOR_EVENT_SECONDS, conf.getint("workers", "min_heartbeat_interval", fallback=0))
    tree = ast.parse((HERE / "e2e_dags" / f"{RESCHEDULE}.py").read_text())
    (poke,) = [
        node.value.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "RESCHEDULE_POKE_SECONDS" for t in node.targets)
    ]
    assert poke >= 2 * late, f"poke_interval {poke} s: a late executor event ({late} s) may fail the sensor"


def test_retry_is_tracked_with_its_try_number(airflow, store):
    airflow_run_id = _finished(airflow, RETRY)
    home = airflow["home"]

    assert home.task_states(RETRY, airflow_run_id)["run_and_track"] == ("success", 2)
    by_try = {}
    for run in store.list_runs(limit=100):
        for source in _airflow_sources(store, run.run_id):
            if source.dag_id == RETRY and source.airflow_run_id == airflow_run_id:
                by_try[source.try_number] = run
    assert sorted(by_try) == [1, 2]
    assert (by_try[1].job_id, by_try[1].status) == (NIGHTLY_JOB_ID, "error")
    assert (by_try[2].job_id, by_try[2].status) == (HOURLY_JOB_ID, "success")
    assert home.xcom(RETRY, airflow_run_id, "run_and_track", "tracking_summary")["run_id"] == by_try[2].run_id


def test_components_are_the_ones_this_airflow_needs(airflow):
    names = [args[0] for args in airflow["home"].components()]
    expected = ["api-server", "dag-processor", "scheduler", "triggerer"] if AIRFLOW_V_3 else ["scheduler", "triggerer"]
    assert names == expected
    airflow["home"].assert_running()
