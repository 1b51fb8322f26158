"""The /_emulator/ control plane, used by tests that run the emulator in another process."""

from __future__ import annotations

import time

import pytest
import requests

from airflow_provider_databand_dbt.testing.emulator import DEMO_ACCOUNT_ID

TOKEN = "dbtc_control_plane_account"


@pytest.fixture()
def control(emulator):
    session = requests.Session()

    def call(method: str, path: str, expected: int = 200, **kwargs):
        response = session.request(method, f"{emulator.url}/_emulator/{path}", timeout=10, **kwargs)
        assert response.status_code == expected, response.text
        return response.json()["data"]

    yield call
    session.close()


@pytest.fixture()
def account7(emulator):
    session = requests.Session()
    session.headers["Authorization"] = f"Token {TOKEN}"
    session.base = f"{emulator.url}/api/v2/accounts/7"
    yield session
    session.close()


def test_build_an_account_over_http(emulator, control, account7):
    assert control("POST", "accounts", 201, json={"account_id": 7, "token": TOKEN, "name": "Seven"})["id"] == 7
    control("POST", "projects", 201, json={"account_id": 7, "project_id": 70, "name": "Seven's project"})
    control("POST", "environments", 201, json={"account_id": 7, "environment_id": 71, "project_id": 70})
    job = control(
        "POST",
        "jobs",
        201,
        json={
            "account_id": 7,
            "job_id": 700,
            "name": "Seven's job",
            "project_id": 70,
            "environment_id": 71,
            "scenario": "nightly_build",
        },
    )
    assert job == {"id": 700, "account_id": 7, "scenario": "nightly_build"}
    added = control("POST", "runs", 201, json={"account_id": 7, "job_id": 700, "count": 150, "status": "error"})
    assert added["count"] == 150 and len(set(added["run_ids"])) == 150
    single = control(
        "POST",
        "runs",
        201,
        json={
            "account_id": 7,
            "job_id": 700,
            "run_id": 90_000_000_000_001,
            "status": "success",
            "created_at": "2026-01-02 03:04:05.000000+00:00",
        },
    )
    assert single["run_ids"] == [90_000_000_000_001]

    page = account7.get(f"{account7.base}/runs/", params={"order_by": "-id"}, timeout=10).json()
    assert page["extra"]["pagination"]["total_count"] == 151
    assert page["data"][0]["id"] == 90_000_000_000_001
    assert page["data"][0]["created_at"] == "2026-01-02 03:04:05.000000+00:00"
    assert {r["status"] for r in page["data"][1:]} == {20}
    assert account7.get(f"{account7.base}/", timeout=10).json()["data"]["name"] == "Seven"
    project = account7.get(f"{emulator.url}/api/v3/accounts/7/projects/70/", timeout=10).json()["data"]
    assert project["name"] == "Seven's project"

    state = control("GET", "state")
    assert state["accounts"] == 2 and state["jobs"] == 3 and state["runs"] == 6 + 151


def test_status_lifecycle_and_outcome_over_http(emulator, control, account7):
    control("POST", "accounts", 201, json={"account_id": 7, "token": TOKEN})
    control("POST", "jobs", 201, json={"account_id": 7, "job_id": 700, "name": "j"})
    run_id = control("POST", "runs", 201, json={"account_id": 7, "job_id": 700})["run_ids"][0]
    control("POST", f"runs/{run_id}/status", json={"status": "running"})
    assert account7.get(f"{account7.base}/runs/{run_id}/", timeout=10).json()["data"]["status"] == 3

    assert control("POST", "lifecycle", json={"queued_seconds": 0.05, "running_seconds": 0.05}) == {
        "queued_seconds": 0.05,
        "running_seconds": 0.05,
    }
    control("POST", "jobs/700/outcome", json={"status": "cancelled"})
    run = account7.post(f"{account7.base}/jobs/700/run/", json={"cause": "http"}, timeout=10).json()["data"]
    time.sleep(0.2)
    assert account7.get(f"{account7.base}/runs/{run['id']}/", timeout=10).json()["data"]["status"] == 30


def test_faults_and_request_log_over_http(emulator, control):
    fault = control(
        "POST",
        "faults",
        201,
        json={"path_pattern": "/accounts/1/$", "kind": "status", "status": 503, "retry_after": 1, "times": 1},
    )
    assert fault["kind"] == "status" and fault["times"] == 1
    assert len(control("GET", "faults")) == 1
    control("DELETE", "requests")
    url = f"{emulator.url}/api/v2/accounts/{DEMO_ACCOUNT_ID}/"
    assert requests.get(url, timeout=10).status_code == 503
    assert requests.get(url, timeout=10).status_code == 401
    assert control("GET", "requests") == [
        {"method": "GET", "path": f"/api/v2/accounts/{DEMO_ACCOUNT_ID}/", "query": {}, "status": 503},
        {"method": "GET", "path": f"/api/v2/accounts/{DEMO_ACCOUNT_ID}/", "query": {}, "status": 401},
    ]
    control("POST", "faults", 201, json={"path_pattern": ".", "kind": "drop"})
    control("DELETE", "faults")
    assert control("GET", "faults") == [] and control("GET", "state")["faults"] == 0


@pytest.mark.parametrize(
    "method, path, body, status",
    [
        ("POST", "faults", {"path_pattern": "x", "kind": "explode"}, 400),
        ("POST", "faults", {"kind": "drop"}, 400),
        ("POST", "faults", {"path_pattern": "x", "colour": "red"}, 400),
        ("POST", "runs", {"account_id": 1, "job_id": 999}, 404),
        ("POST", "runs", {"account_id": 1, "job_id": 100, "status": "exploded"}, 400),
        ("POST", "runs", {"account_id": 1, "job_id": 100, "bogus": 1}, 400),
        ("POST", "runs", {"job_id": 100}, 400),
        ("POST", "runs/1/status", {"status": "success"}, 404),
        ("POST", "jobs/100/outcome", {"status": "running"}, 400),
        ("POST", "lifecycle", {"queued_seconds": -1, "running_seconds": 1}, 400),
        ("GET", "runs", None, 405),
        ("GET", "nothing", None, 404),
    ],
)
def test_bad_control_requests(control, method, path, body, status):
    control(method, path, status, json=body)


def test_control_body_must_be_json(emulator):
    response = requests.post(f"{emulator.url}/_emulator/lifecycle", data="{oops", timeout=10)
    assert response.status_code == 400 and response.json()["status"]["is_success"] is False
