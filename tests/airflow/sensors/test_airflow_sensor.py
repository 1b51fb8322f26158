"""DbtCloudRunAndTrackSensor: the provider's sensor plus tracking, in poke and deferrable modes, over real HTTP."""

from __future__ import annotations

import asyncio

import pytest

pytest.importorskip("airflow")

from dbt_airflow_helpers import make_sensor

from airflow_provider_databand_dbt.testing.emulator import DEMO_ACCOUNT_ID, HOURLY_JOB_ID, NIGHTLY_JOB_ID  # noqa: E402


def test_definition_keeps_the_parents_template_fields_and_adds_our_link():
    from airflow.providers.dbt.cloud.sensors.dbt import DbtCloudJobRunSensor

    from airflow_provider_databand_dbt.sensors import DbtCloudRunAndTrackSensor

    assert DbtCloudRunAndTrackSensor.template_fields == (*DbtCloudJobRunSensor.template_fields, "tracking_url")
    assert [link.name for link in DbtCloudRunAndTrackSensor.operator_extra_links] == ["Tracked dbt Cloud Run"]


def test_waits_for_a_running_run_then_tracks_it(dag, dbt_cloud_conn, task_context, default_store):
    run_id = dbt_cloud_conn.add_run(DEMO_ACCOUNT_ID, HOURLY_JOB_ID, status="queued")
    make_sensor(run_id=str(run_id)).execute(task_context)
    assert default_store.get_report(run_id).status == "success"
    summary = task_context["ti"].xcoms["tracking_summary"]
    assert (summary["run_id"], summary["status"], summary["tracked"]) == (run_id, "success", True)
    (source,) = default_store.list_sources(run_id)
    assert (source.kind, source.dag_id, source.task_id) == ("airflow", "test_dag", "test_task")


def test_a_poke_on_an_unfinished_run_does_not_track(dag, dbt_cloud_conn, task_context, default_store):
    run_id = dbt_cloud_conn.add_run(DEMO_ACCOUNT_ID, HOURLY_JOB_ID, status="running")
    dbt_cloud_conn.set_run_status(run_id, "running")
    sensor = make_sensor(run_id=run_id)
    assert sensor.poke(task_context) is False
    assert default_store.get_report(run_id) is None


@pytest.mark.parametrize("status", ["error", "cancelled"])
def test_failed_run_is_tracked_then_fails_the_task(status, dag, dbt_cloud_conn, task_context, default_store):
    from airflow.providers.dbt.cloud.hooks.dbt import DbtCloudJobRunException

    run_id = dbt_cloud_conn.add_run(DEMO_ACCOUNT_ID, NIGHTLY_JOB_ID, status=status)
    with pytest.raises(DbtCloudJobRunException):
        make_sensor(run_id=run_id).execute(task_context)
    report = default_store.get_report(run_id)
    assert report.status == status
    if status == "error":
        assert task_context["ti"].xcoms["tracking_summary"]["failed_nodes"]


def test_sensor_timeout_tracks_the_current_state(dag, dbt_cloud_conn, task_context, default_store):
    from airflow_provider_databand_dbt.airflow_compat import AirflowSensorTimeout

    run_id = dbt_cloud_conn.add_run(DEMO_ACCOUNT_ID, HOURLY_JOB_ID, status="running")
    dbt_cloud_conn.set_run_status(run_id, "running")
    with pytest.raises(AirflowSensorTimeout):
        make_sensor(run_id=run_id, timeout=0.3).execute(task_context)
    assert default_store.get_report(run_id).status == "running"


def test_deferrable_defers_with_our_trigger_and_tracks_on_resume(dag, dbt_cloud_conn, task_context, default_store):
    from airflow_provider_databand_dbt.airflow_compat import TaskDeferred
    from airflow_provider_databand_dbt.triggers import DbtCloudTrackingRunJobTrigger

    run_id = dbt_cloud_conn.add_run(DEMO_ACCOUNT_ID, HOURLY_JOB_ID, status="queued")
    with pytest.raises(TaskDeferred) as deferred:
        make_sensor(run_id=run_id, deferrable=True).execute(task_context)
    trigger = deferred.value.trigger
    assert isinstance(trigger, DbtCloudTrackingRunJobTrigger)
    assert default_store.get_report(run_id) is None

    async def first_event():
        runner = trigger.run()
        try:
            return (await asyncio.wait_for(runner.__anext__(), 20)).payload
        finally:
            await runner.aclose()

    event = asyncio.run(first_event())
    resumed = make_sensor(task_id="resumed", run_id=run_id, deferrable=True)
    assert resumed.execute_complete(task_context, event=event) == run_id
    assert default_store.get_report(run_id).status == "success"


def test_non_numeric_run_id_is_named(dag, dbt_cloud_conn, task_context):
    from airflow_provider_databand_dbt.airflow_compat import AirflowException

    with pytest.raises(AirflowException, match="run_id must be a positive integer"):
        make_sensor(run_id="None").execute(task_context)


def test_operator_then_sensor_is_one_run_with_two_sources(dag, dbt_cloud_conn, task_context, default_store):
    from dbt_airflow_helpers import FakeTaskInstance

    from airflow_provider_databand_dbt.operators import DbtCloudRunAndTrackOperator

    dbt_cloud_conn.set_lifecycle(0.5, 0.5)
    run_id = DbtCloudRunAndTrackOperator(
        task_id="trigger_and_track", job_id=HOURLY_JOB_ID, wait_for_termination=False
    ).execute(task_context)
    assert default_store.get_report(run_id).status == "queued"

    sensor_ti = FakeTaskInstance(task_id="wait_and_track")
    make_sensor(run_id=run_id).execute({"ti": sensor_ti, "run_id": sensor_ti.run_id})

    assert default_store.get_report(run_id).status == "success"
    assert [source.task_id for source in default_store.list_sources(run_id)] == ["test_task", "wait_and_track"]
    assert default_store.count_runs() == 1
