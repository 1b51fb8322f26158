"""DbtCloudRunAndTrackOperator fails exactly when and as the provider's operator does, whatever tracking does.

Each test reproduces a failure of the provider's own unit tests run with our operator substituted
(scripts/upstream_provider_tests.py), here over real HTTP (the emulator) and a real store.
"""

from __future__ import annotations

import pytest

pytest.importorskip("airflow")

from dbt_airflow_helpers import FakeTaskInstance, make_operator

from airflow_provider_databand_dbt.testing.emulator import (
    DEMO_ACCOUNT_ID,
    HOURLY_JOB_ID,
)

PROVIDER_MESSAGE = "Either job_id or project_name, environment_name, and job_name must be provided."


class XComBackendDown(FakeTaskInstance):
    """A task instance whose XCom backend refuses the tracking summary (the run id still goes through)."""

    def xcom_push(self, key, value):
        if key == "tracking_summary":
            raise ConnectionError("XCom backend unavailable")
        super().xcom_push(key, value)


@pytest.mark.parametrize(
    ("names", "missing"),
    [
        ({"environment_name": "Production", "job_name": "Hourly models"}, "project_name"),
        ({"project_name": "Jaffle shop", "environment_name": "", "job_name": "Hourly models"}, "environment_name"),
        ({"project_name": "Jaffle shop", "environment_name": "Production"}, "job_name"),
        ({"project_name": "", "environment_name": "", "job_name": ""}, "project_name, environment_name, job_name"),
    ],
)
def test_missing_job_names_raise_the_providers_value_error(names, missing, dag, dbt_cloud_conn, task_context):
    from airflow_provider_databand_dbt.airflow_compat import AirflowException
    from airflow_provider_databand_dbt.operators import DbtCloudJobArgumentsError

    with pytest.raises(ValueError, match=PROVIDER_MESSAGE) as excinfo:
        make_operator(**names).execute(task_context)
    assert isinstance(excinfo.value, AirflowException) and isinstance(excinfo.value, DbtCloudJobArgumentsError)
    assert f"(missing: {missing})" in str(excinfo.value)
    assert not any(r.method == "POST" for r in dbt_cloud_conn.requests)


def test_a_tracking_failure_after_collecting_is_a_warning(dag, dbt_cloud_conn, capfd, caplog):
    ti = XComBackendDown()
    run_id = make_operator(job_id=HOURLY_JOB_ID).execute({"ti": ti, "run_id": ti.run_id})
    assert ti.xcoms["job_run_id"] == run_id
    logged = capfd.readouterr().out + caplog.text
    assert f"Could not track dbt Cloud run {run_id} (ConnectionError: XCom backend unavailable)" in logged


def test_a_tracking_failure_never_masks_the_timeout_of_a_deferred_run(dag, dbt_cloud_conn, default_store):
    from airflow.providers.dbt.cloud.hooks.dbt import DbtCloudJobRunException

    dbt_cloud_conn.set_lifecycle(30.0, 30.0)
    run_id = dbt_cloud_conn.add_run(DEMO_ACCOUNT_ID, HOURLY_JOB_ID, status="queued")
    ti = XComBackendDown()
    with pytest.raises(DbtCloudJobRunException, match="has timed out"):
        make_operator(job_id=HOURLY_JOB_ID, deferrable=True).execute_complete(
            {"ti": ti}, event={"status": "timeout", "message": "x", "run_id": run_id}
        )
    assert default_store.get_report(run_id).status == "cancelled"  # cancelled like the provider, then tracked


def test_fail_on_tracking_error_covers_any_tracking_exception(dag, dbt_cloud_conn):
    from airflow_provider_databand_dbt.operators import DbtCloudTrackingError

    ti = XComBackendDown()
    with pytest.raises(DbtCloudTrackingError, match="XCom backend unavailable"):
        make_operator(job_id=HOURLY_JOB_ID, fail_on_tracking_error=True).execute({"ti": ti})


def test_the_hook_is_built_through_the_providers_module_name(dag, monkeypatch):
    """Patching ``...operators.dbt.DbtCloudHook`` (as the provider's tests and many users' do) reaches our operator."""
    import airflow.providers.dbt.cloud.operators.dbt as provider_operators

    from airflow_provider_databand_dbt.hooks import DbtCloudTrackingHook

    class SiteHook(DbtCloudTrackingHook):
        pass

    assert type(make_operator(job_id=1, task_id="plain").hook) is DbtCloudTrackingHook  # never the provider's class
    monkeypatch.setattr(provider_operators, "DbtCloudHook", SiteHook)
    op = make_operator(job_id=1, task_id="site", hook_params={"retry_limit": 3})
    assert type(op.hook) is SiteHook and op.hook.retry_limit == 3
