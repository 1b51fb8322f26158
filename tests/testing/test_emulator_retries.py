"""Retry from failure in the emulator, as the v2 spec describes it: runs/{id}/retry/ and jobs/{id}/rerun/."""

from __future__ import annotations

from airflow_provider_databand_dbt.testing.emulator import DEMO_ACCOUNT_ID, HOURLY_JOB_ID

ACCOUNT = f"/api/v2/accounts/{DEMO_ACCOUNT_ID}"
TRIGGER = {"include_related": '["trigger"]'}


def _trigger(api, job_id: int) -> int:
    response = api.post(f"{ACCOUNT}/jobs/{job_id}/run/", json={"cause": "Triggered by a test"})
    assert response.status_code == 200, response.text
    return response.json()["data"]["id"]


def test_retry_of_the_latest_failed_run_names_the_run_it_retries(emulator, api):
    emulator.set_lifecycle(0.0, 0.0)
    emulator.state.set_run_outcome(HOURLY_JOB_ID, "error")
    failed = _trigger(api, HOURLY_JOB_ID)
    assert api.data(f"{ACCOUNT}/runs/{failed}/")["can_retry"] is True

    response = api.post(f"{ACCOUNT}/runs/{failed}/retry/")
    assert response.status_code == 200, response.text
    retry = api.data(f"{ACCOUNT}/runs/{response.json()['data']['id']}/", params=TRIGGER)
    assert retry["id"] > failed and retry["retrying_run_id"] == failed
    assert retry["trigger"]["cause_category"] == "rerun" and str(failed) in retry["trigger"]["cause"]
    assert retry["job_definition_id"] == HOURLY_JOB_ID
    assert api.data(f"{ACCOUNT}/runs/{failed}/", params=TRIGGER)["retrying_run_id"] is None

    # Only the job's latest run, and only a failed one, can be retried.
    again = api.post(f"{ACCOUNT}/runs/{failed}/retry/")
    assert again.status_code == 400 and "RETRY_NOT_LATEST_RUN" in again.text
    emulator.state.set_run_outcome(HOURLY_JOB_ID, "success")
    passed = _trigger(api, HOURLY_JOB_ID)
    refused = api.post(f"{ACCOUNT}/runs/{passed}/retry/")
    assert refused.status_code == 400 and "RETRY_NOT_FAILED_RUN" in refused.text


def test_rerun_retries_a_failed_latest_run_and_otherwise_runs_anew(emulator, api):
    emulator.set_lifecycle(0.0, 0.0)
    emulator.state.set_run_outcome(HOURLY_JOB_ID, "error")
    failed = _trigger(api, HOURLY_JOB_ID)
    retry = api.post(f"{ACCOUNT}/jobs/{HOURLY_JOB_ID}/rerun/").json()["data"]
    assert retry["retrying_run_id"] == failed and retry["trigger"]["cause_category"] == "rerun"

    emulator.state.set_run_outcome(HOURLY_JOB_ID, "success")
    passed = _trigger(api, HOURLY_JOB_ID)
    fresh = api.post(f"{ACCOUNT}/jobs/{HOURLY_JOB_ID}/rerun/").json()["data"]
    assert fresh["id"] > passed and fresh["retrying_run_id"] is None
    assert fresh["trigger"]["cause_category"] is None
