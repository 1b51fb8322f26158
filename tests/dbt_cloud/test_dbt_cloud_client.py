"""Every client method against the emulator over real HTTP: the happy paths."""

from __future__ import annotations

import json
import logging
import time

import pytest

from airflow_provider_databand_dbt.dbt_cloud.client import DbtCloudClient
from airflow_provider_databand_dbt.dbt_cloud.errors import DbtCloudConfigError
from airflow_provider_databand_dbt.dbt_cloud.models import ApiRun
from airflow_provider_databand_dbt.testing.emulator import (
    DEMO_ACCOUNT_ID,
    DEMO_ENVIRONMENT_ID,
    DEMO_PROJECT_ID,
    HOURLY_JOB_ID,
    NIGHTLY_JOB_ID,
)
from airflow_provider_databand_dbt.testing.scenarios import ARTIFACTS_DIR

ACCOUNT = DEMO_ACCOUNT_ID


def last_request(emulator, method="GET"):
    return [r for r in emulator.requests if r.method == method][-1]


def test_get_account(client, emulator, listener):
    account = client.get_account(ACCOUNT)
    assert account.id == ACCOUNT and account.name
    assert client.request_count == 1
    assert listener.calls == [("GET", "/api/v2/accounts/{account_id}/", "200")]


def test_get_run_with_related_objects(client, emulator):
    run_id = emulator.seeded_runs[NIGHTLY_JOB_ID][-1]
    run = client.get_run(str(ACCOUNT), str(run_id))
    assert isinstance(run, ApiRun)
    assert (run.id, run.account_id, run.job_id, run.job_definition_id) == (
        run_id,
        ACCOUNT,
        NIGHTLY_JOB_ID,
        NIGHTLY_JOB_ID,
    )
    assert run.status == 20 and run.status_label == "error" and run.is_terminal
    assert run.project_id == DEMO_PROJECT_ID and run.environment_id == DEMO_ENVIRONMENT_ID
    assert run.job.name == "Nightly build" and run.job.execute_steps
    assert run.trigger.cause
    assert run.run_steps and [s.index for s in run.run_steps] == sorted(s.index for s in run.run_steps)
    assert run.created_at.tzinfo is not None and run.finished_at >= run.started_at
    request = last_request(emulator)
    assert request.path == f"/api/v2/accounts/{ACCOUNT}/runs/{run_id}/"
    assert json.loads(request.query["include_related"]) == ["run_steps", "job", "trigger"]


def test_get_run_without_related(client, emulator):
    run = client.get_run(ACCOUNT, emulator.seeded_runs[HOURLY_JOB_ID][0], include_related=())
    assert run.run_steps is None and run.job is None
    assert "include_related" not in last_request(emulator).query


def test_list_runs_filters_and_total(client, emulator):
    page = client.list_runs(ACCOUNT, job_id=HOURLY_JOB_ID, status="success", limit=2, include_related=["job"])
    assert page.total_count == len(emulator.seeded_runs[HOURLY_JOB_ID])
    assert len(page.runs) == 2 and all(r.job_id == HOURLY_JOB_ID and r.job.name for r in page.runs)
    assert [r.id for r in page.runs] == sorted((r.id for r in page.runs), reverse=True)
    query = last_request(emulator).query
    assert query["job_definition_id"] == str(HOURLY_JOB_ID)
    assert query["status"] == "10" and query["limit"] == "2" and query["offset"] == "0" and query["order_by"] == "-id"
    assert json.loads(query["include_related"]) == ["job"]


def test_list_runs_several_statuses(client, emulator):
    page = client.list_runs(ACCOUNT, status=["error", 10])
    assert {r.status for r in page.runs} == {10, 20}
    assert json.loads(last_request(emulator).query["status__in"]) == [10, 20]


@pytest.mark.parametrize(
    "kwargs", [{"limit": 101}, {"limit": 0}, {"offset": -1}, {"status": "done"}, {"status": 4}, {"job_id": "x"}]
)
def test_list_runs_rejects_bad_arguments_before_sending(client, kwargs):
    with pytest.raises(DbtCloudConfigError):
        client.list_runs(ACCOUNT, **kwargs)
    assert client.request_count == 0


def test_iter_runs_pages_over_more_than_100_runs(make_client, emulator):
    emulator.add_runs(ACCOUNT, HOURLY_JOB_ID, 250, status="success")
    client = make_client()
    emulator.reset_request_log()
    runs = list(client.iter_runs(ACCOUNT, job_id=HOURLY_JOB_ID))
    expected_total = 250 + len(emulator.seeded_runs[HOURLY_JOB_ID])
    assert len(runs) == expected_total == len({r.id for r in runs})
    offsets = [r.query["offset"] for r in emulator.requests]
    assert offsets == ["0", "100", "200"]
    assert all(r.query["limit"] == "100" for r in emulator.requests)


def test_iter_runs_small_pages(client, emulator):
    runs = list(client.iter_runs(ACCOUNT, page_size=2, order_by="id"))
    assert [r.id for r in runs] == sorted(sum(emulator.seeded_runs.values(), []))
    with pytest.raises(DbtCloudConfigError, match="page_size"):
        list(client.iter_runs(ACCOUNT, limit=5))


def test_jobs(client, emulator):
    job = client.get_job(ACCOUNT, NIGHTLY_JOB_ID)
    assert (job.id, job.name, job.project_id, job.environment_id) == (NIGHTLY_JOB_ID, "Nightly build", 10, 20)
    assert job.execute_steps
    assert [j.id for j in client.list_jobs(ACCOUNT)] == [NIGHTLY_JOB_ID, HOURLY_JOB_ID]
    assert [
        j.id for j in client.list_jobs(ACCOUNT, project_id=DEMO_PROJECT_ID, environment_id=DEMO_ENVIRONMENT_ID)
    ] == [
        NIGHTLY_JOB_ID,
        HOURLY_JOB_ID,
    ]
    assert last_request(emulator).query["project_id"] == str(DEMO_PROJECT_ID)


def test_list_jobs_pages(make_client, emulator):
    for job_id in range(1000, 1150):
        emulator.add_job(ACCOUNT, job_id, f"job {job_id}", DEMO_PROJECT_ID, DEMO_ENVIRONMENT_ID)
    jobs = make_client().list_jobs(ACCOUNT)
    assert len(jobs) == 152 and len({j.id for j in jobs}) == 152


def test_project_and_environment_use_v3(client, emulator):
    project = client.get_project(ACCOUNT, DEMO_PROJECT_ID)
    assert (project.id, project.name) == (DEMO_PROJECT_ID, "Jaffle shop")
    assert last_request(emulator).path == f"/api/v3/accounts/{ACCOUNT}/projects/{DEMO_PROJECT_ID}/"
    environment = client.get_environment(ACCOUNT, DEMO_ENVIRONMENT_ID)
    assert (environment.id, environment.name, environment.project_id) == (DEMO_ENVIRONMENT_ID, "Production", 10)
    assert last_request(emulator).path == f"/api/v3/accounts/{ACCOUNT}/environments/{DEMO_ENVIRONMENT_ID}/"


def test_artifacts_list_and_download(client, emulator, tmp_path):
    run_id = emulator.seeded_runs[NIGHTLY_JOB_ID][-1]
    run = client.get_run(ACCOUNT, run_id)
    names = client.list_artifacts(ACCOUNT, run_id)
    assert "manifest.json" in names and "run_results.json" in names
    last_step = run.run_steps[-1].index
    assert "run_results.json" in client.list_artifacts(ACCOUNT, run_id, step=last_step)
    path = client.download_artifact(ACCOUNT, run_id, "run_results.json", step=last_step, directory=tmp_path)
    assert path.parent == tmp_path and path.name.endswith("-run_results.json")
    served = sorted(ARTIFACTS_DIR.glob("nightly_build/step_*/run_results.json"))
    assert any(path.read_bytes() == candidate.read_bytes() for candidate in served)
    assert json.loads(path.read_bytes())["results"]
    assert last_request(emulator).query == {"step": str(last_step)}


def test_trigger_cancel_and_rerun(client, emulator):
    emulator.set_lifecycle(queued_seconds=30, running_seconds=30)
    run = client.trigger_job_run(
        ACCOUNT, HOURLY_JOB_ID, "Triggered by a test", git_branch="feature/x", schema_override=None
    )
    assert run.status_label == "queued" and run.job_id == HOURLY_JOB_ID
    assert run.trigger.cause == "Triggered by a test" and run.trigger.git_branch == "feature/x"
    cancelled = client.cancel_run(ACCOUNT, run.id)
    assert cancelled.id == run.id and cancelled.status_label == "cancelled"
    rerun = client.rerun_job(ACCOUNT, HOURLY_JOB_ID)
    assert rerun.id > run.id
    assert [r.path for r in emulator.requests if r.method == "POST"] == [
        f"/api/v2/accounts/{ACCOUNT}/jobs/{HOURLY_JOB_ID}/run/",
        f"/api/v2/accounts/{ACCOUNT}/runs/{run.id}/cancel/",
        f"/api/v2/accounts/{ACCOUNT}/jobs/{HOURLY_JOB_ID}/rerun/",
    ]


def test_trigger_rejects_unknown_override_and_empty_cause(client):
    with pytest.raises(DbtCloudConfigError, match="git_brnach"):
        client.trigger_job_run(ACCOUNT, HOURLY_JOB_ID, "x", git_brnach="main")
    with pytest.raises(DbtCloudConfigError, match="cause"):
        client.trigger_job_run(ACCOUNT, HOURLY_JOB_ID, "  ")
    assert client.request_count == 0


def test_client_properties_and_repr(emulator):
    with DbtCloudClient("dbtc_repr_secret_value", emulator.url + "/") as client:
        assert client.base_url == emulator.url
        assert client.host == f"127.0.0.1:{emulator.port}"
        assert client.timeout == (10.0, 60.0)
        assert client.retry.max_attempts == 5
        assert "dbtc_repr_secret_value" not in repr(client) and "dbtc_repr_secret_value" not in str(vars(client))
        assert repr(client) == f"DbtCloudClient(api_url={emulator.url!r})"
    assert DbtCloudClient("t", "emea.dbt.com").host == "emea.dbt.com"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"timeout": 0},
        {"timeout": (1, -1)},
        {"timeout": "5"},
        {"retry": 3},
        {"max_requests_per_minute": 0},
        {"max_artifact_bytes": 0},
    ],
)
def test_constructor_validates(kwargs):
    with pytest.raises(DbtCloudConfigError):
        DbtCloudClient("dbtc_x", "cloud.getdbt.com", **kwargs)


def test_ids_are_validated_naming_the_parameter(client):
    with pytest.raises(DbtCloudConfigError, match="account_id"):
        client.get_run("abc", 1)
    with pytest.raises(DbtCloudConfigError, match="run_id"):
        client.get_run(1, -1)
    with pytest.raises(DbtCloudConfigError, match="job_id"):
        client.get_job(1, True)
    with pytest.raises(DbtCloudConfigError, match="run_id"):
        client.download_artifact(1, 1.5, "manifest.json")
    assert client.request_count == 0


def test_debug_log_line_per_request(client, emulator, caplog):
    run_id = emulator.seeded_runs[NIGHTLY_JOB_ID][-1]
    with caplog.at_level(logging.DEBUG, logger="airflow_provider_databand_dbt.dbt_cloud"):
        client.get_run(ACCOUNT, run_id)
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("airflow_provider_databand_dbt.dbt_cloud")]
    assert len(lines) == 1
    assert lines[0].startswith(f"dbt Cloud GET /api/v2/accounts/1/runs/{run_id}/ -> 200 in ")
    assert "include_related" not in lines[0]


def test_rate_limit_spaces_requests(make_client, listener):
    client = make_client(max_requests_per_minute=600)  # 10/s after a burst of 100
    assert client.rate_limiter.requests_per_minute == 600
    for _ in range(100):  # use up the burst without waiting
        client.rate_limiter.reserve()
    started = time.monotonic()
    for _ in range(3):
        client.get_account(ACCOUNT)
    assert time.monotonic() - started >= 0.29
    assert listener.outcomes == ["200", "200", "200"]
