"""The SDK-compatible entry point, end to end: inputs, client, collection and the tracking store."""

from __future__ import annotations

import json

import pytest

from airflow_provider_databand_dbt import collect_data_from_dbt_cloud as public_collect
from airflow_provider_databand_dbt.api import collect_data_from_dbt_cloud
from airflow_provider_databand_dbt.dbt_cloud.errors import DbtCloudAuthError, DbtCloudConfigError
from airflow_provider_databand_dbt.model.source import TrackingSource
from airflow_provider_databand_dbt.testing.emulator import DEMO_ACCOUNT_ID, DEMO_TOKEN, NIGHTLY_JOB_ID
from airflow_provider_databand_dbt.tracking.store import TrackingStore

RUN_KEYS = {
    "account_id",
    "run_id",
    "job_id",
    "job_name",
    "project_id",
    "project_name",
    "environment_id",
    "environment_name",
    "status",
    "status_message",
    "trigger_cause",
    "git_branch",
    "git_sha",
    "dbt_version",
    "created_at",
    "started_at",
    "finished_at",
    "duration_seconds",
    "url",
    "steps",
    "summary",
}
STEP_KEYS = {
    "index",
    "name",
    "command",
    "status",
    "started_at",
    "finished_at",
    "duration_seconds",
    "artifacts_missing",
    "nodes",
}
NODE_KEYS = {
    "unique_id",
    "name",
    "resource_type",
    "status",
    "execution_time",
    "rows_affected",
    "message",
    "failures",
    "depends_on",
}


def test_end_to_end_into_the_store(emulator, sqlite_url, expected):
    run_id = emulator.seeded_runs[NIGHTLY_JOB_ID][-1]
    # string ids, as Airflow templates give them, through the package-level import
    report = public_collect(str(DEMO_ACCOUNT_ID), DEMO_TOKEN, str(run_id), emulator.url, tracking_url=sqlite_url)

    data = report.as_dict()
    assert RUN_KEYS <= set(data)
    assert STEP_KEYS <= set(data["steps"][0])
    node = next(n for step in data["steps"] for n in step["nodes"])
    assert NODE_KEYS <= set(node)
    json.dumps(data)  # JSON-ready
    assert data["summary"] == expected["nightly_build"]["summary"]

    with TrackingStore(sqlite_url) as store:
        assert store.get_report(run_id).summary == expected["nightly_build"]["summary"]
        assert [s.kind for s in store.list_sources(run_id)] == ["api"]


def test_store_instance_source_and_no_store(emulator, sqlite_url, tmp_path):
    run_id = emulator.seeded_runs[NIGHTLY_JOB_ID][0]
    with TrackingStore(sqlite_url) as store:
        collect_data_from_dbt_cloud(
            DEMO_ACCOUNT_ID,
            DEMO_TOKEN,
            run_id,
            emulator.url,
            store=store,
            source=TrackingSource(kind="airflow", dag_id="d", task_id="t"),
        )
        # the caller's store stays open and usable
        assert [s.kind for s in store.list_sources(run_id)] == ["airflow"]

    unused = tmp_path / "unused.db"
    report = collect_data_from_dbt_cloud(
        DEMO_ACCOUNT_ID, DEMO_TOKEN, run_id, emulator.url, store=False, tracking_url=f"sqlite:///{unused}"
    )
    assert report.run_id == run_id and not unused.exists()


def test_default_store_comes_from_the_environment(emulator, tmp_path):
    run_id = emulator.seeded_runs[NIGHTLY_JOB_ID][0]
    collect_data_from_dbt_cloud(DEMO_ACCOUNT_ID, DEMO_TOKEN, run_id, emulator.url)
    with TrackingStore() as store:  # the autouse fixture points the default at a temp file
        assert store.get_report(run_id) is not None


@pytest.mark.parametrize(
    ("account", "token", "run", "problem"),
    [
        ("abc", DEMO_TOKEN, 1, "dbt_cloud_account_id"),
        (1, DEMO_TOKEN, "12x", "dbt_job_run_id"),
        (1, DEMO_TOKEN, None, "dbt_job_run_id"),
        (1, "", 1, "token is empty"),
        (1, None, 1, "token is empty"),
        (DEMO_TOKEN, DEMO_TOKEN, 1, "dbt_cloud_account_id"),  # token passed in the wrong place
    ],
)
def test_bad_inputs_raise_config_errors_without_the_token(account, token, run, problem, sqlite_url):
    with pytest.raises(DbtCloudConfigError, match=problem) as caught:
        collect_data_from_dbt_cloud(account, token, run, "http://127.0.0.1:9", tracking_url=sqlite_url)
    assert DEMO_TOKEN not in str(caught.value)


def test_wrong_token_raises_auth_error_and_stores_nothing(emulator, sqlite_url):
    run_id = emulator.seeded_runs[NIGHTLY_JOB_ID][0]
    with pytest.raises(DbtCloudAuthError) as caught:
        collect_data_from_dbt_cloud(
            DEMO_ACCOUNT_ID, "dbtc_wrong_token_123", run_id, emulator.url, tracking_url=sqlite_url
        )
    assert "dbtc_wrong_token_123" not in str(caught.value)
    with TrackingStore(sqlite_url) as store:
        assert store.get_report(run_id) is None


def test_client_options_reach_the_client(emulator):
    run_id = emulator.seeded_runs[NIGHTLY_JOB_ID][0]
    calls = []
    collect_data_from_dbt_cloud(
        DEMO_ACCOUNT_ID,
        DEMO_TOKEN,
        run_id,
        emulator.url,
        store=False,
        client_options={"request_listener": lambda method, route, outcome: calls.append(outcome)},
    )
    assert calls and set(calls) == {"200"}
