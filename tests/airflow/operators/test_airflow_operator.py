"""DbtCloudRunAndTrackOperator: the provider's behaviour plus tracking, over real HTTP and a real store."""

from __future__ import annotations

import asyncio

import pytest

pytest.importorskip("airflow")

from dbt_airflow_helpers import connection_json, load_json, make_operator  # noqa: E402

from airflow_provider_databand_dbt.testing.emulator import (  # noqa: E402
    DEMO_ACCOUNT_ID,
    DEMO_TOKEN,
    HOURLY_JOB_ID,
    NIGHTLY_JOB_ID,
)


def _logged(capfd, caplog) -> list[str]:
    """Task log lines: Airflow 3 prints them (structlog), Airflow 2 sends them to stdlib logging."""
    out, err = capfd.readouterr()
    return (out + err).splitlines() + [record.getMessage() for record in caplog.records]


def _run_event(trigger) -> dict:
    async def first():
        runner = trigger.run()
        try:
            return (await asyncio.wait_for(runner.__anext__(), 20)).payload
        finally:
            await runner.aclose()

    return asyncio.run(first())


class TestDefinition:
    def test_templated_fields_are_the_parents_plus_ours(self):
        from airflow.providers.dbt.cloud.operators.dbt import DbtCloudRunJobOperator

        from airflow_provider_databand_dbt.operators import DbtCloudRunAndTrackOperator

        assert DbtCloudRunAndTrackOperator.template_fields == (*DbtCloudRunJobOperator.template_fields, "tracking_url")

    def test_extra_links_keep_monitor_job_run_and_add_ours(self):
        from airflow_provider_databand_dbt.operators import DbtCloudRunAndTrackOperator

        names = [link.name for link in DbtCloudRunAndTrackOperator.operator_extra_links]
        assert names == ["Monitor Job Run", "Tracked dbt Cloud Run"]

    def test_hook_is_ours_with_hook_params(self, dag):
        from airflow_provider_databand_dbt.hooks import DbtCloudTrackingHook

        op = make_operator(job_id=1, dbt_cloud_conn_id="other", hook_params={"retry_limit": 7})
        assert isinstance(op.hook, DbtCloudTrackingHook)
        assert (op.hook.dbt_cloud_conn_id, op.hook.retry_limit) == ("other", 7)


class TestRunAndTrack:
    def test_success_is_tracked_with_the_task_as_source(self, dag, dbt_cloud_conn, task_context, default_store):
        op = make_operator(job_id=str(HOURLY_JOB_ID))
        run_id = op.execute(task_context)

        xcoms = task_context["ti"].xcoms
        assert xcoms["job_run_id"] == run_id
        assert xcoms["job_run_url"].endswith(f"/runs/{run_id}/")
        summary = xcoms["tracking_summary"]
        assert summary["run_id"] == run_id and summary["job_id"] == HOURLY_JOB_ID
        assert summary["status"] == "success" and summary["tracked"] is True
        assert summary["failed_nodes"] == []
        assert sum(summary["node_counts"].values()) > 0
        assert summary["report_url"] == f"http://127.0.0.1:8788/runs/{run_id}"

        report = default_store.get_report(run_id)
        assert report.status == "success" and len(report.steps) > 0
        (source,) = default_store.list_sources(run_id)
        assert (source.kind, source.name, source.dag_id, source.task_id) == (
            "airflow",
            "test_dag.test_task",
            "test_dag",
            "test_task",
        )
        assert (source.airflow_run_id, source.try_number, source.map_index) == ("manual__test", 1, None)

    def test_dbt_error_fails_the_task_after_tracking_and_logs_each_failed_node(
        self, dag, dbt_cloud_conn, task_context, default_store, capfd, caplog
    ):
        from airflow.providers.dbt.cloud.hooks.dbt import DbtCloudJobRunException

        op = make_operator(job_id=NIGHTLY_JOB_ID)
        with pytest.raises(DbtCloudJobRunException, match="terminal status ERROR"):
            op.execute(task_context)

        summary = task_context["ti"].xcoms["tracking_summary"]
        assert summary["status"] == "error"
        report = default_store.get_report(summary["run_id"])
        failed = {node.unique_id: node for node in report.failed_nodes()}
        assert set(summary["failed_nodes"]) == set(failed) and failed
        node_lines = [line for line in _logged(capfd, caplog) if "dbt node " in line]
        assert {line.split("dbt node ", 1)[1].split(" ", 1)[0] for line in node_lines} == set(failed)
        for unique_id, node in failed.items():
            assert any(f"dbt node {unique_id} {node.status} (step " in line for line in node_lines)

    def test_cancelled_run_fails_the_task_after_tracking(self, dag, dbt_cloud_conn, task_context, default_store):
        from airflow.providers.dbt.cloud.hooks.dbt import DbtCloudJobRunException

        dbt_cloud_conn.set_run_outcome(HOURLY_JOB_ID, "cancelled")
        with pytest.raises(DbtCloudJobRunException):
            make_operator(job_id=HOURLY_JOB_ID).execute(task_context)
        run_id = task_context["ti"].xcoms["job_run_id"]
        assert default_store.get_report(run_id).status == "cancelled"

    def test_wait_timeout_tracks_the_running_run(self, dag, dbt_cloud_conn, task_context, default_store):
        from airflow.providers.dbt.cloud.hooks.dbt import DbtCloudJobRunException

        dbt_cloud_conn.set_lifecycle(0.0, 60.0)
        with pytest.raises(DbtCloudJobRunException, match="has not reached a terminal status"):
            make_operator(job_id=HOURLY_JOB_ID, timeout=0.5).execute(task_context)
        assert task_context["ti"].xcoms["tracking_summary"]["status"] == "running"
        assert default_store.get_report(task_context["ti"].xcoms["job_run_id"]).status == "running"

    def test_no_wait_tracks_the_current_state_and_returns(self, dag, dbt_cloud_conn, task_context, default_store):
        dbt_cloud_conn.set_lifecycle(30.0, 30.0)
        run_id = make_operator(job_id=HOURLY_JOB_ID, wait_for_termination=False).execute(task_context)
        assert task_context["ti"].xcoms["tracking_summary"]["status"] == "queued"
        assert default_store.get_report(run_id).status == "queued"

    def test_job_found_by_names(self, dag, dbt_cloud_conn, task_context):
        op = make_operator(project_name="Jaffle shop", environment_name="Production", job_name="Hourly models")
        op.execute(task_context)
        assert task_context["ti"].xcoms["tracking_summary"]["job_id"] == HOURLY_JOB_ID

    def test_on_kill_cancels_the_run_like_the_provider(self, dag, dbt_cloud_conn):
        dbt_cloud_conn.set_lifecycle(30.0, 30.0)
        run_id = dbt_cloud_conn.add_run(DEMO_ACCOUNT_ID, HOURLY_JOB_ID, status="queued")
        op = make_operator(job_id=HOURLY_JOB_ID)
        op.run_id = run_id
        op.on_kill()
        assert dbt_cloud_conn.run_status(run_id) == 30
        assert any(r.method == "POST" and r.path.endswith(f"/runs/{run_id}/cancel/") for r in dbt_cloud_conn.requests)


class TestDeferrable:
    def test_defers_with_our_trigger_then_tracks_on_the_worker(self, dag, dbt_cloud_conn, task_context, default_store):
        from airflow_provider_databand_dbt.airflow_compat import TaskDeferred
        from airflow_provider_databand_dbt.triggers import DbtCloudTrackingRunJobTrigger

        op = make_operator(job_id=HOURLY_JOB_ID, deferrable=True)
        with pytest.raises(TaskDeferred) as deferred:
            op.execute(task_context)
        trigger = deferred.value.trigger
        assert isinstance(trigger, DbtCloudTrackingRunJobTrigger)
        assert deferred.value.method_name == "execute_complete"
        run_id = task_context["ti"].xcoms["job_run_id"]
        assert trigger.run_id == run_id and trigger.poll_interval == 0.1
        assert "tracking_summary" not in task_context["ti"].xcoms  # nothing tracked before the run ends
        assert default_store.get_report(run_id) is None

        event = _run_event(trigger)
        resumed = make_operator(task_id="resumed_after_deferral", job_id=HOURLY_JOB_ID, deferrable=True)
        assert resumed.execute_complete(task_context, event=event) == run_id
        assert task_context["ti"].xcoms["tracking_summary"]["status"] == "success"
        assert default_store.get_report(run_id).status == "success"

    @pytest.mark.parametrize("status", ["error", "cancelled"])
    def test_failed_event_is_tracked_then_raised(self, status, dag, dbt_cloud_conn, task_context, default_store):
        from airflow.providers.dbt.cloud.hooks.dbt import DbtCloudJobRunException

        run_id = dbt_cloud_conn.add_run(DEMO_ACCOUNT_ID, NIGHTLY_JOB_ID, status=status)
        with pytest.raises(DbtCloudJobRunException):
            make_operator(job_id=NIGHTLY_JOB_ID).execute_complete(
                task_context, event={"status": status, "message": "x", "run_id": run_id}
            )
        assert default_store.get_report(run_id).status == status

    def test_timeout_event_cancels_then_tracks(self, dag, dbt_cloud_conn, task_context, default_store):
        from airflow.providers.dbt.cloud.hooks.dbt import DbtCloudJobRunException

        dbt_cloud_conn.set_lifecycle(30.0, 30.0)
        run_id = dbt_cloud_conn.add_run(DEMO_ACCOUNT_ID, HOURLY_JOB_ID, status="queued")
        with pytest.raises(DbtCloudJobRunException, match="timed out"):
            make_operator(job_id=HOURLY_JOB_ID).execute_complete(
                task_context, event={"status": "timeout", "message": "x", "run_id": run_id}
            )
        assert default_store.get_report(run_id).status == "cancelled"

    def test_malformed_event_fails_without_tracking(self, dag, dbt_cloud_conn, task_context):
        from airflow.providers.dbt.cloud.hooks.dbt import DbtCloudTriggerEventException

        with pytest.raises(DbtCloudTriggerEventException):
            make_operator(job_id=HOURLY_JOB_ID).execute_complete(task_context, event=None)
        assert "tracking_summary" not in task_context["ti"].xcoms


class TestTrackingFailures:
    BROKEN_STORE = "sqlite:////nonexistent-dir/deeper/tracking.db"

    def test_tracking_error_is_a_warning_by_default(self, dag, dbt_cloud_conn, task_context, capfd, caplog):
        op = make_operator(job_id=HOURLY_JOB_ID, tracking_url=self.BROKEN_STORE)
        run_id = op.execute(task_context)
        summary = task_context["ti"].xcoms["tracking_summary"]
        assert summary["run_id"] == run_id and summary["tracked"] is False and summary["tracking_error"]
        assert any(f"Could not track dbt Cloud run {run_id}" in line for line in _logged(capfd, caplog))

    def test_fail_on_tracking_error_fails_a_successful_task(self, dag, dbt_cloud_conn, task_context):
        from airflow_provider_databand_dbt.operators import DbtCloudTrackingError

        op = make_operator(job_id=HOURLY_JOB_ID, tracking_url=self.BROKEN_STORE, fail_on_tracking_error=True)
        with pytest.raises(DbtCloudTrackingError, match="Could not track dbt Cloud run"):
            op.execute(task_context)

    def test_tracking_error_never_hides_the_dbt_error(self, dag, dbt_cloud_conn, task_context):
        from airflow.providers.dbt.cloud.hooks.dbt import DbtCloudJobRunException

        op = make_operator(job_id=NIGHTLY_JOB_ID, tracking_url=self.BROKEN_STORE, fail_on_tracking_error=True)
        with pytest.raises(DbtCloudJobRunException, match="terminal status ERROR"):
            op.execute(task_context)


class TestBadInput:
    @pytest.mark.parametrize(
        ("kwargs", "expected"),
        [
            ({"job_id": 100, "job_name": "Nightly build"}, "not both (got job_id=100 and job_name)"),
            ({}, "missing: project_name, environment_name, job_name"),
            ({"job_name": "Nightly build"}, "missing: project_name, environment_name"),
            ({"job_id": "nightly"}, "job_id must be a positive integer"),
            ({"job_id": 100, "account_id": "acme"}, "account_id must be a positive integer"),
            (
                {"project_name": "Jaffle shop", "environment_name": "Production", "job_name": "No such job"},
                "job_name='No such job'",
            ),
        ],
    )
    def test_bad_arguments_are_named(self, kwargs, expected, dag, dbt_cloud_conn, task_context):
        from airflow_provider_databand_dbt.airflow_compat import AirflowException

        with pytest.raises(AirflowException) as excinfo:
            make_operator(**kwargs).execute(task_context)
        assert expected in str(excinfo.value)
        assert not any(r.method == "POST" for r in dbt_cloud_conn.requests)
        assert "tracking_summary" not in task_context["ti"].xcoms

    @pytest.mark.parametrize("case", load_json("bad_connections.json"), ids=lambda case: case["id"])
    def test_bad_connection_field_is_named(self, case, dag, emulator, monkeypatch, task_context):
        from airflow_provider_databand_dbt.airflow_compat import AirflowException

        monkeypatch.setenv("AIRFLOW_CONN_DBT_CLOUD_DEFAULT", connection_json(emulator, **case["overrides"]))
        with pytest.raises(AirflowException) as excinfo:
            make_operator(job_id=HOURLY_JOB_ID).execute(task_context)
        for part in case["expect"]:
            assert part in str(excinfo.value)
        assert DEMO_TOKEN not in str(excinfo.value)
