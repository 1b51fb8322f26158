"""DbtCloudRunAndTrackSensor works where the provider's sensor does: contexts without a task instance.

The provider's code and tests call ``poke({})`` and ``execute_complete(context={}, ...)``; each test
reproduces a failure of its unit tests run with our sensor substituted, over real HTTP and a real store.
"""

from __future__ import annotations

import pytest

pytest.importorskip("airflow")

from dbt_airflow_helpers import make_sensor

from airflow_provider_databand_dbt.testing.emulator import (
    DEMO_ACCOUNT_ID,
    HOURLY_JOB_ID,
    NIGHTLY_JOB_ID,
)


def test_poke_without_a_task_instance_tracks_the_finished_run(dag, dbt_cloud_conn, default_store):
    run_id = dbt_cloud_conn.add_run(DEMO_ACCOUNT_ID, HOURLY_JOB_ID, status="success")
    assert make_sensor(run_id=run_id).poke({}) is True
    assert default_store.get_report(run_id).status == "success"
    (source,) = default_store.list_sources(run_id)
    assert source.kind == "api"  # no task instance to name: tracked as an API call


def test_poke_without_a_task_instance_raises_dbts_failure(dag, dbt_cloud_conn, default_store):
    from airflow.providers.dbt.cloud.hooks.dbt import DbtCloudJobRunException

    run_id = dbt_cloud_conn.add_run(DEMO_ACCOUNT_ID, NIGHTLY_JOB_ID, status="error")
    with pytest.raises(DbtCloudJobRunException, match="has failed"):
        make_sensor(run_id=run_id).poke({})
    assert default_store.get_report(run_id).status == "error"


@pytest.mark.parametrize(
    ("status", "message"),
    [("cancelled", "has been cancelled"), ("error", "has failed"), ("timeout", "has timed out")],
)
def test_execute_complete_without_a_task_instance_fails_like_the_provider(
    status, message, dag, dbt_cloud_conn, default_store
):
    from airflow.providers.dbt.cloud.hooks.dbt import DbtCloudJobRunException

    run_id = dbt_cloud_conn.add_run(DEMO_ACCOUNT_ID, NIGHTLY_JOB_ID, status="error")
    event = {"status": status, "message": f"Job run {run_id} {message}.", "run_id": run_id}
    with pytest.raises(DbtCloudJobRunException, match=message):
        make_sensor(run_id=run_id).execute_complete(context={}, event=event)
    assert default_store.get_report(run_id) is not None


def test_execute_complete_without_a_task_instance_succeeds(dag, dbt_cloud_conn, default_store):
    run_id = dbt_cloud_conn.add_run(DEMO_ACCOUNT_ID, HOURLY_JOB_ID, status="success")
    event = {"status": "success", "message": f"Job run {run_id} has completed successfully.", "run_id": run_id}
    make_sensor(run_id=run_id).execute_complete(context={}, event=event)
    assert default_store.get_report(run_id).status == "success"


def test_execute_without_a_task_instance_defers(dag, dbt_cloud_conn):
    from airflow_provider_databand_dbt.airflow_compat import TaskDeferred

    run_id = dbt_cloud_conn.add_run(DEMO_ACCOUNT_ID, HOURLY_JOB_ID, status="running")
    dbt_cloud_conn.set_run_status(run_id, "running")
    with pytest.raises(TaskDeferred):
        make_sensor(run_id=run_id, deferrable=True).execute({})


def test_the_hook_is_built_through_the_providers_module_name(dag, monkeypatch):
    import airflow.providers.dbt.cloud.sensors.dbt as provider_sensors

    from airflow_provider_databand_dbt.hooks import DbtCloudTrackingHook

    class SiteHook(DbtCloudTrackingHook):
        pass

    monkeypatch.setattr(provider_sensors, "DbtCloudHook", SiteHook)
    assert type(make_sensor(run_id=1).hook) is SiteHook
