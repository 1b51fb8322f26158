"""Shapes of every dbt Cloud endpoint the emulator serves, auth, pagination and filters (real HTTP)."""

from __future__ import annotations

import json
import re

import pytest
import requests

from airflow_provider_databand_dbt.testing.emulator import (
    DEMO_ACCOUNT_ID,
    DEMO_ENVIRONMENT_ID,
    DEMO_PROJECT_ID,
    DEMO_TOKEN,
    HOURLY_JOB_ID,
    NIGHTLY_JOB_ID,
)

ACCOUNT = f"/api/v2/accounts/{DEMO_ACCOUNT_ID}"
V3 = f"/api/v3/accounts/{DEMO_ACCOUNT_ID}"
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}\+00:00$")
RUN_KEYS = {
    "id",
    "trigger_id",
    "account_id",
    "environment_id",
    "project_id",
    "job_definition_id",
    "job_id",
    "status",
    "status_humanized",
    "status_message",
    "dbt_version",
    "git_branch",
    "git_sha",
    "created_at",
    "updated_at",
    "dequeued_at",
    "started_at",
    "finished_at",
    "in_progress",
    "is_complete",
    "is_success",
    "is_error",
    "is_cancelled",
    "duration",
    "run_duration",
    "href",
    "artifacts_saved",
    "has_docs_generated",
    "has_sources_generated",
}


def test_seed_ids_and_big_run_ids(emulator, api, check_envelope):
    body = api.get(f"{ACCOUNT}/runs/", params={"order_by": "id"}).json()
    check_envelope(body)
    runs = body["data"]
    assert len(runs) == 6
    assert [r["id"] for r in runs] == sorted(emulator.seeded_runs[100] + emulator.seeded_runs[101])
    assert all(r["id"] > 2**32 for r in runs)
    by_job = {job: [r for r in runs if r["job_definition_id"] == job] for job in (NIGHTLY_JOB_ID, HOURLY_JOB_ID)}
    assert {r["status"] for r in by_job[NIGHTLY_JOB_ID]} == {20}
    assert {r["status"] for r in by_job[HOURLY_JOB_ID]} == {10}
    assert all(r["project_id"] == DEMO_PROJECT_ID and r["environment_id"] == DEMO_ENVIRONMENT_ID for r in runs)


def test_run_object_shape(emulator, api):
    run_id = emulator.seeded_runs[NIGHTLY_JOB_ID][-1]
    run = api.data(f"{ACCOUNT}/runs/{run_id}/")
    assert RUN_KEYS <= set(run)
    assert not {"run_steps", "job", "trigger"} & set(run), "related objects only when asked"
    assert run["id"] == run_id and run["job_id"] == run["job_definition_id"] == NIGHTLY_JOB_ID
    assert run["status"] == 20 and run["status_humanized"] == "Error" and run["is_error"] is True
    assert run["is_complete"] is True and run["in_progress"] is False
    assert run["status_message"]
    assert run["href"] == f"{emulator.url}/deploy/{DEMO_ACCOUNT_ID}/projects/{DEMO_PROJECT_ID}/runs/{run_id}/"
    for key in ("created_at", "updated_at", "started_at", "finished_at", "dequeued_at"):
        assert TIMESTAMP.match(run[key]), (key, run[key])
    assert run["created_at"] < run["started_at"] < run["finished_at"]
    assert re.match(r"^\d\d:\d\d:\d\d$", run["duration"])
    assert run["dbt_version"] == "1.10.0-latest"
    assert run["has_sources_generated"] is True and run["artifacts_saved"] is True


@pytest.mark.parametrize(
    "params",
    [
        {"include_related": '["run_steps","job","trigger"]'},
        {"include_related": ["run_steps", "job", "trigger"]},
        {"include_related": "run_steps,job,trigger"},
    ],
    ids=["json-list", "repeated", "comma"],
)
def test_include_related_forms(emulator, api, params):
    run_id = emulator.seeded_runs[NIGHTLY_JOB_ID][0]
    run = api.data(f"{ACCOUNT}/runs/{run_id}/", params=params)
    assert run["job"]["id"] == NIGHTLY_JOB_ID and run["job"]["name"] == "Nightly build"
    assert run["job"]["execute_steps"] and all(s.startswith("dbt ") for s in run["job"]["execute_steps"])
    assert run["trigger"]["id"] == run["trigger_id"] and run["trigger"]["cause"]
    steps = run["run_steps"]
    scenario = emulator.scenarios.get("nightly_build")
    assert [s["index"] for s in steps] == [s.index for s in scenario.steps]
    assert [s["name"] for s in steps] == [s.name for s in scenario.steps]
    assert [s["status"] for s in steps] == [s.status for s in scenario.steps]
    assert steps[-1]["status"] == 20
    assert len({s["id"] for s in steps}) == len(steps)
    for step in steps:
        assert step["run_id"] == run_id and step["account_id"] == DEMO_ACCOUNT_ID
        assert TIMESTAMP.match(step["started_at"]) and TIMESTAMP.match(step["finished_at"])
        assert step["started_at"] <= step["finished_at"] and step["logs"]
    assert steps[0]["started_at"] == run["started_at"] and steps[-1]["finished_at"] == run["finished_at"]


def test_include_related_only_what_is_asked(emulator, api):
    run = api.data(f"{ACCOUNT}/runs/{emulator.seeded_runs[HOURLY_JOB_ID][0]}/", params={"include_related": "trigger"})
    assert "trigger" in run and "job" not in run and "run_steps" not in run


def test_list_runs_pagination(emulator, api):
    emulator.add_runs(DEMO_ACCOUNT_ID, HOURLY_JOB_ID, 244)
    first = api.get(f"{ACCOUNT}/runs/", params={"limit": 100, "offset": 0, "order_by": "-id"}).json()
    assert first["extra"]["pagination"] == {"count": 100, "total_count": 250}
    assert first["extra"]["filters"]["limit"] == 100 and first["extra"]["filters"]["offset"] == 0
    seen = []
    for offset in (0, 100, 200):
        page = api.get(f"{ACCOUNT}/runs/", params={"limit": 100, "offset": offset, "order_by": "-id"}).json()
        seen += [r["id"] for r in page["data"]]
    assert len(seen) == 250 and seen == sorted(seen, reverse=True) and len(set(seen)) == 250
    last = api.get(f"{ACCOUNT}/runs/", params={"limit": 100, "offset": 200}).json()
    assert last["extra"]["pagination"] == {"count": 50, "total_count": 250}
    beyond = api.get(f"{ACCOUNT}/runs/", params={"offset": 400}).json()
    assert beyond["data"] == [] and beyond["extra"]["pagination"] == {"count": 0, "total_count": 250}


def test_list_runs_orderings(emulator, api):
    ascending = [r["id"] for r in api.data(f"{ACCOUNT}/runs/", params={"order_by": "id"})]
    assert ascending == sorted(ascending)
    by_created = api.data(f"{ACCOUNT}/runs/", params={"order_by": "-created_at"})
    assert [r["created_at"] for r in by_created] == sorted((r["created_at"] for r in by_created), reverse=True)
    # An old run added late: -id and -created_at disagree about it.
    old = emulator.add_run(DEMO_ACCOUNT_ID, HOURLY_JOB_ID, created_at="2020-01-01T00:00:00Z")
    assert api.data(f"{ACCOUNT}/runs/", params={"order_by": "-id", "limit": 1})[0]["id"] == old
    assert api.data(f"{ACCOUNT}/runs/", params={"order_by": "-created_at"})[-1]["id"] == old
    assert api.data(f"{ACCOUNT}/runs/", params={"order_by": "created_at", "limit": 1})[0]["id"] == old
    bad = api.get(f"{ACCOUNT}/runs/", params={"order_by": "name"})
    assert bad.status_code == 400


def test_list_runs_filters(emulator, api):
    emulator.add_job(DEMO_ACCOUNT_ID, 300, "Other env job", project_id=11, environment_id=21)
    other = emulator.add_run(DEMO_ACCOUNT_ID, 300, status="cancelled")
    nightly = api.get(f"{ACCOUNT}/runs/", params={"job_definition_id": NIGHTLY_JOB_ID}).json()
    assert {r["job_definition_id"] for r in nightly["data"]} == {NIGHTLY_JOB_ID}
    assert nightly["extra"]["pagination"]["total_count"] == 3
    assert nightly["extra"]["filters"]["job_definition_id"] == NIGHTLY_JOB_ID
    assert [r["id"] for r in api.data(f"{ACCOUNT}/runs/", params={"project_id": 11})] == [other]
    assert [r["id"] for r in api.data(f"{ACCOUNT}/runs/", params={"environment_id": 21})] == [other]
    assert len(api.data(f"{ACCOUNT}/runs/", params={"environment_id": DEMO_ENVIRONMENT_ID})) == 6
    assert [r["id"] for r in api.data(f"{ACCOUNT}/runs/", params={"status": 30})] == [other]
    assert {r["status"] for r in api.data(f"{ACCOUNT}/runs/", params={"status__in": "[10,30]"})} == {10, 30}
    with_steps = api.data(f"{ACCOUNT}/runs/", params={"status": 20, "include_related": '["run_steps"]'})
    assert len(with_steps) == 3 and all(r["run_steps"] for r in with_steps)
    assert api.data(f"{ACCOUNT}/runs/", params={"job_definition_id": 999}) == []


def test_list_runs_id_filters_of_the_spec(emulator, api):
    """``id__gt`` and ``pk__in`` (dbt Cloud's "List Runs" spec); ``id__in`` is not in it and is ignored."""
    ids = sorted(r["id"] for r in api.data(f"{ACCOUNT}/runs/"))
    newer = api.get(f"{ACCOUNT}/runs/", params={"id__gt": ids[3], "order_by": "-id"}).json()
    assert [r["id"] for r in newer["data"]] == ids[4:][::-1]
    assert newer["extra"]["pagination"]["total_count"] == len(ids) - 4 and newer["extra"]["filters"]["id__gt"] == ids[3]
    assert api.data(f"{ACCOUNT}/runs/", params={"id__gt": ids[-1]}) == []
    picked = [ids[0], ids[2], ids[5]]
    listed = ",".join(map(str, picked))
    for form in (f"[{listed}]", listed):
        assert [r["id"] for r in api.data(f"{ACCOUNT}/runs/", params={"pk__in": form})] == picked
    assert [r["id"] for r in api.data(f"{ACCOUNT}/runs/", params={"pk__in": str(picked), "id__gt": ids[1]})] == picked[
        1:
    ]
    assert [r["id"] for r in api.data(f"{ACCOUNT}/runs/", params={"pk": ids[2]})] == [ids[2]]
    assert len(api.data(f"{ACCOUNT}/runs/", params={"id__in": str(picked)})) == len(ids)
    assert api.get(f"{ACCOUNT}/runs/", params={"pk__in": "[1,x]"}).status_code == 400


def test_list_runs_related_can_follow_the_spec(emulator, api):
    """Narrowed to what the spec documents for the list, runs come without steps (collectors then GET them)."""
    emulator.set_list_related({"job", "trigger"})
    [run] = api.data(f"{ACCOUNT}/runs/", params={"limit": 1, "include_related": '["run_steps","job","trigger"]'})
    assert "job" in run and "trigger" in run and "run_steps" not in run
    full = api.data(f"{ACCOUNT}/runs/{run['id']}/", params={"include_related": '["run_steps"]'})
    assert full["run_steps"]


@pytest.mark.parametrize("limit", [101, 0, -1, "ten"])
def test_list_runs_bad_limit(api, check_envelope, limit):
    response = api.get(f"{ACCOUNT}/runs/", params={"limit": limit})
    assert response.status_code == 400
    check_envelope(response.json(), 400)


def test_jobs(api, check_envelope):
    body = api.get(f"{ACCOUNT}/jobs/").json()
    check_envelope(body)
    assert [j["id"] for j in body["data"]] == [NIGHTLY_JOB_ID, HOURLY_JOB_ID]
    assert body["extra"]["pagination"] == {"count": 2, "total_count": 2}
    assert [j["id"] for j in api.data(f"{ACCOUNT}/jobs/", params={"order_by": "-id"})] == [101, 100]
    assert api.data(f"{ACCOUNT}/jobs/", params={"project_id": 999}) == []
    job = api.data(f"{ACCOUNT}/jobs/{NIGHTLY_JOB_ID}/")
    assert job["name"] == "Nightly build" and job["project_id"] == DEMO_PROJECT_ID
    assert job["environment_id"] == DEMO_ENVIRONMENT_ID and job["account_id"] == DEMO_ACCOUNT_ID
    assert "dbt build" in job["execute_steps"]
    # The Airflow provider asks for jobs without the trailing slash.
    assert api.data(f"{ACCOUNT}/jobs/{HOURLY_JOB_ID}")["name"] == "Hourly models"


def test_account_projects_environments(api):
    assert api.data(f"{ACCOUNT}/")["id"] == DEMO_ACCOUNT_ID
    assert [a["id"] for a in api.data("/api/v2/accounts/")] == [DEMO_ACCOUNT_ID]
    projects = api.get(f"{V3}/projects/").json()
    assert [p["name"] for p in projects["data"]] == ["Jaffle shop"]
    assert projects["extra"]["pagination"]["total_count"] == 1
    project = api.data(f"{V3}/projects/{DEMO_PROJECT_ID}/")
    assert project == projects["data"][0] and project["account_id"] == DEMO_ACCOUNT_ID
    env = api.data(f"{V3}/environments/{DEMO_ENVIRONMENT_ID}/")
    assert env["name"] == "Production" and env["dbt_version"] == "1.10.0-latest"
    assert env["project_id"] == DEMO_PROJECT_ID and env["type"] == "deployment"
    assert api.data(f"{V3}/projects/{DEMO_PROJECT_ID}/environments/") == [env]
    assert api.data(f"{V3}/projects/{DEMO_PROJECT_ID}/environments/{DEMO_ENVIRONMENT_ID}/") == env
    assert api.get(f"{V3}/projects/999/environments/{DEMO_ENVIRONMENT_ID}/").status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        f"{ACCOUNT}/runs/1/",
        f"{ACCOUNT}/jobs/999/",
        f"{V3}/projects/999/",
        f"{V3}/environments/999/",
        f"{ACCOUNT}/nothing/",
        "/api/v2/elsewhere/",
    ],
)
def test_not_found(api, check_envelope, path):
    response = api.get(path)
    assert response.status_code == 404
    check_envelope(response.json(), 404)


def test_wrong_method(api, check_envelope):
    response = api.post(f"{ACCOUNT}/jobs/")
    assert response.status_code == 405
    check_envelope(response.json(), 405)


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Token nope"}, {"Authorization": "Basic abc"}, {"Authorization": "Token "}]
)
def test_unknown_token_401(emulator, check_envelope, headers):
    response = requests.get(f"{emulator.url}{ACCOUNT}/runs/", headers=headers, timeout=10)
    assert response.status_code == 401
    check_envelope(response.json(), 401)


def test_bearer_accepted(emulator):
    response = requests.get(f"{emulator.url}{ACCOUNT}/", headers={"Authorization": f"Bearer {DEMO_TOKEN}"}, timeout=10)
    assert response.status_code == 200


def test_other_account_403_and_isolation(emulator, api, check_envelope):
    emulator.add_account(2, "dbtc_second_account_token", name="Second")
    emulator.add_job(2, 200, "Second job", project_id=30, environment_id=40)
    run_id = emulator.add_run(2, 200)
    response = api.get(f"/api/v2/accounts/2/runs/{run_id}/")
    assert response.status_code == 403
    check_envelope(response.json(), 403)
    assert api.post("/api/v2/accounts/2/jobs/200/run/", json={"cause": "x"}).status_code == 403
    # The right token sees its own run, and cannot reach it through the other account's path.
    second = requests.Session()
    second.headers["Authorization"] = "Token dbtc_second_account_token"
    assert second.get(f"{emulator.url}/api/v2/accounts/2/runs/{run_id}/", timeout=10).json()["data"]["id"] == run_id
    assert second.get(f"{emulator.url}{ACCOUNT}/runs/", timeout=10).status_code == 403
    assert api.get(f"{ACCOUNT}/runs/{run_id}/").status_code == 404
    assert run_id not in [r["id"] for r in api.data(f"{ACCOUNT}/runs/")]


def test_error_bodies_never_echo_the_token(emulator):
    response = requests.get(f"{emulator.url}{ACCOUNT}/runs/", headers={"Authorization": "Token dbtc_LEAK"}, timeout=10)
    assert "dbtc_LEAK" not in response.text
    assert DEMO_TOKEN not in json.dumps(requests.get(f"{emulator.url}/_emulator/state", timeout=10).json())
