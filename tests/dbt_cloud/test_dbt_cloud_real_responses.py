"""Captured real dbt Cloud API answers (tests/dbt_cloud/data/real, sources in its README) served
over real HTTP: our client decodes each, and the collector builds and stores a report from them.

The emulator is written by us from the API docs; these payloads are what dbt Cloud actually
sent (nulls for job/trigger/environment, ``run_steps: []``, a redacted ``href``, dozens of fields
we never read, both ``job_id`` and ``job_definition_id``).
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from pathlib import Path

import pytest
from scripted_server import Canned, ScriptedServer

from airflow_provider_databand_dbt.dbt_cloud.client import DbtCloudClient
from airflow_provider_databand_dbt.dbt_cloud.errors import DbtCloudInvalidResponseError
from airflow_provider_databand_dbt.dbt_cloud.retry import RetryPolicy
from airflow_provider_databand_dbt.sinks.service import TrackingService

REAL = Path(__file__).parent / "data" / "real"
TOKEN = "dbtc_real_fixture_token"
FAST = RetryPolicy(max_attempts=2, backoff_base=0.01, backoff_max=0.01)
ACCOUNT = 123456
NOT_FOUND = Canned(
    404,
    b'{"status": {"code": 404, "is_success": false, "user_message": "Not found"}, "data": null}',
    {"Content-Type": "application/json"},
)


def _body(name: str) -> bytes:
    return (REAL / f"{name}.json").read_bytes()


def _answer(name: str) -> Canned:
    return Canned(200, _body(name), {"Content-Type": "application/json"})


def real_api(run_fixture: str = "dbt_cloud_cli_run_get"):
    """A responder answering each route with the captured payload for it, 404 for anything else."""
    routes = [
        ("GET", r"/accounts/\d+/$", "dbt_cloud_cli_account_get"),
        ("GET", r"/accounts/\d+/projects/\d+/$", "dbt_cloud_cli_project_get"),
        ("GET", r"/accounts/\d+/environments/\d+/$", "dbt_cloud_cli_environment_get"),
        ("GET", r"/accounts/\d+/jobs/\d+/$", "dbt_cloud_cli_job_get"),
        ("POST", r"/accounts/\d+/jobs/\d+/run/$", "dbt_cloud_cli_job_run_trigger"),
        ("GET", r"/accounts/\d+/runs/\d+/$", run_fixture),
        ("GET", r"/accounts/\d+/runs/\d+/artifacts/$", "dbt_cloud_cli_run_list_artifacts"),
    ]

    def responder(method: str, path: str) -> Canned:
        path = path.split("?", 1)[0]
        for route_method, pattern, name in routes:
            if method == route_method and re.search(r"/api/v[23]" + pattern, path):
                return _answer(name)
        return NOT_FOUND

    return responder


@pytest.fixture()
def client():
    with ScriptedServer(real_api()) as server, DbtCloudClient(TOKEN, server.url, retry=FAST) as api:
        yield api


def test_every_fixture_is_a_dbt_cloud_envelope():
    names = sorted(path.stem for path in REAL.glob("*.json"))
    assert len(names) >= 8
    for name in names:
        document = json.loads(_body(name))
        assert "data" in document, name
    assert (REAL / "README.md").read_text().count("| `") >= len(names)  # each one's source is recorded


def test_account(client):
    account = client.get_account(ACCOUNT)
    assert (account.id, account.name, account.state, account.plan) == (123456, "REDACTED", 1, "enterprise")


def test_project_with_nested_connection_and_repository(client):
    project = client.get_project(ACCOUNT, 123457)
    assert (project.id, project.account_id, project.name, project.dbt_project_subdirectory) == (
        123457,
        123456,
        "jaffle_shop",
        None,
    )


def test_environment_without_type_fields(client):
    environment = client.get_environment(ACCOUNT, 67890)
    assert (environment.id, environment.name, environment.dbt_version) == (67890, "Anonymized Project", "1.4.0-latest")
    assert (environment.type, environment.deployment_type) == (None, None)  # older answers have neither


def test_job_with_null_dbt_version_and_extra_objects(client):
    job = client.get_job(ACCOUNT, 43167)
    assert (job.id, job.name, job.execute_steps, job.dbt_version, job.state) == (
        43167,
        "Do nothing!",
        ["dbt run -s not_a_model"],
        None,
        1,
    )
    assert job.created_at == datetime(2021, 11, 18, 15, 19, 3, 185668, tzinfo=timezone.utc)


def test_run_with_space_separated_timestamps_and_null_relations(client):
    run = client.get_run(ACCOUNT, 36053848, include_related=("run_steps", "job", "trigger"))
    assert (run.id, run.status_label, run.job_id, run.job_definition_id) == (36053848, "success", 43167, 43167)
    assert (run.trigger, run.job, run.run_steps) == (None, None, [])
    assert run.finished_at == datetime(2021, 12, 7, 10, 34, 14, 435474, tzinfo=timezone.utc)
    assert run.is_terminal and run.artifacts_saved


def test_triggered_run(client):
    run = client.trigger_job_run(ACCOUNT, 43167, cause="real fixture")
    assert (run.id, run.status, run.trigger_id) == (34929305, 10, 35644346)


def test_artifact_list_with_seed_files(client):
    assert client.list_artifacts(ACCOUNT, 36053848) == [
        "manifest.json",
        "run/jaffle_shop/data/raw_customers.csv",
        "run/jaffle_shop/data/raw_orders.csv",
        "run/jaffle_shop/data/raw_payments.csv",
        "run_results.json",
    ]


def test_collector_builds_and_stores_a_report_from_real_payloads(store):
    with ScriptedServer(real_api()) as server, DbtCloudClient(TOKEN, server.url, retry=FAST) as api:
        report = TrackingService(store, []).track(api, ACCOUNT, 36053848)

    assert (report.run_id, report.account_id, report.job_id, report.status) == (36053848, 123456, 43167, "success")
    assert (report.project_name, report.environment_name) == ("jaffle_shop", "Anonymized Project")
    assert (report.git_branch, report.dbt_version, report.steps) == ("main", "0.21.0", [])
    assert report.duration_seconds == pytest.approx(12.45, abs=0.01)
    # The captured href is redacted ("REDACTED"): not a URL, so the report links the run itself.
    assert report.url == f"{server.url}/deploy/123456/projects/123457/runs/36053848/"
    stored = store.get_report(36053848)
    assert (stored.status, stored.job_id, stored.url) == ("success", 43167, report.url)


def test_a_run_answer_without_id_or_status_fails_in_one_clear_line():
    """The provider's test payload (airflow_provider_job_run) keeps only job and steps: not a trackable run."""
    server = ScriptedServer(real_api("airflow_provider_job_run"))
    with (
        server,
        DbtCloudClient(TOKEN, server.url, retry=FAST) as api,
        pytest.raises(DbtCloudInvalidResponseError) as raised,
    ):
        api.get_run(194246, 1, include_related=("run_steps", "job"))
    message = str(raised.value)
    assert "missing required field `id`" in message and "\n" not in message and TOKEN not in message


def test_steps_with_only_index_and_name_decode():
    """The same payload's ``run_steps`` and ``job``, as dbt Cloud nests them, decode on their own."""
    import msgspec

    from airflow_provider_databand_dbt.dbt_cloud.models import ApiJob, ApiRunStep

    data = json.loads(_body("airflow_provider_job_run"))["data"]
    steps = msgspec.convert(data["run_steps"], list[ApiRunStep])
    assert [(s.index, s.name, s.status_label) for s in steps][-1] == (4, "Invoke dbt with `dbt build`", "unknown")
    assert msgspec.convert(data["job"], ApiJob).execute_steps == ["dbt build"]
