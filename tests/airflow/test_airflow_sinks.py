"""The Airflow trackers (hook, operator, sensor) hand every tracked run to the sinks after the store.

A failing sink is not a tracking failure: even with ``fail_on_tracking_error=True`` the task keeps dbt's outcome.
"""

from __future__ import annotations

import pytest

pytest.importorskip("airflow")

from dbt_airflow_helpers import make_operator, make_sensor
from sink_doubles import HttpSink, SinkEndpoint, registered

from airflow_provider_databand_dbt.testing.emulator import HOURLY_JOB_ID, NIGHTLY_JOB_ID


@pytest.fixture()
def sinks():
    """A sink that is down (500) registered before one that works."""
    with (
        SinkEndpoint(status=500) as down,
        SinkEndpoint() as up,
        registered(HttpSink("alerts", down.url), HttpSink("lineage", up.url)),
    ):
        yield down, up


def _seen(endpoint) -> list[tuple]:
    return [(body["run_id"], body["source_kind"], body["source_name"]) for body in endpoint.received]


def test_hook_collect_run_goes_through_the_sinks(dbt_cloud_conn, default_store, sinks):
    from airflow_provider_databand_dbt.hooks import DbtCloudTrackingHook

    down, up = sinks
    run_id = dbt_cloud_conn.seeded_runs[HOURLY_JOB_ID][-1]
    report = DbtCloudTrackingHook(retry_delay=0.05).collect_run(run_id)
    assert report.status == "success"
    assert default_store.get_report(run_id) is not None
    assert len(down.received) == 1
    assert _seen(up) == [(run_id, "api", None)]


def test_operator_keeps_dbts_outcome_when_a_sink_fails(dag, dbt_cloud_conn, task_context, default_store, sinks):
    down, up = sinks
    op = make_operator(job_id=HOURLY_JOB_ID, fail_on_tracking_error=True)
    run_id = op.execute(task_context)
    summary = task_context["ti"].xcoms["tracking_summary"]
    assert summary["tracked"] is True and summary["status"] == "success"
    assert default_store.get_report(run_id) is not None
    assert len(down.received) == 1
    assert _seen(up) == [(run_id, "airflow", "test_dag.test_task")]


def test_sensor_tracks_through_the_sinks(dag, dbt_cloud_conn, task_context, default_store, sinks):
    from airflow.providers.dbt.cloud.hooks.dbt import DbtCloudJobRunException

    _down, up = sinks
    run_id = dbt_cloud_conn.seeded_runs[NIGHTLY_JOB_ID][-1]
    with pytest.raises(DbtCloudJobRunException):
        make_sensor(run_id=run_id, fail_on_tracking_error=True).execute(task_context)
    assert task_context["ti"].xcoms["tracking_summary"]["status"] == "error"
    assert default_store.get_report(run_id).status == "error"
    assert _seen(up) == [(run_id, "airflow", "test_dag.test_task")]
