"""Each injected fault kind, as a plain HTTP client experiences it, and the request log."""

from __future__ import annotations

import time

import pytest
import requests

from airflow_provider_databand_dbt.testing.emulator import DEMO_ACCOUNT_ID, NIGHTLY_JOB_ID, Fault, RequestRecord

ACCOUNT = f"/api/v2/accounts/{DEMO_ACCOUNT_ID}"
# What requests raises when the body ends before Content-Length says.
BROKEN_BODY = (requests.exceptions.ChunkedEncodingError, requests.exceptions.ConnectionError)


def test_status_fault_with_retry_after_and_times(emulator, api, check_envelope):
    emulator.inject_fault(Fault(r"/runs/$", kind="status", status=429, retry_after=2, times=2))
    for _ in range(2):
        response = api.get(f"{ACCOUNT}/runs/")
        assert response.status_code == 429 and response.headers["Retry-After"] == "2"
        check_envelope(response.json(), 429)
    assert api.get(f"{ACCOUNT}/runs/").status_code == 200
    emulator.inject_fault(Fault(r"/runs/$", status=503, retry_after=0.5, times=1))
    assert api.get(f"{ACCOUNT}/runs/").headers["Retry-After"] == "0.5"


def test_status_fault_forever_until_cleared_and_method_filter(emulator, api):
    emulator.inject_fault(Fault(r"/jobs/\d+/run/$", status=500, method="POST"))
    for _ in range(3):
        assert api.post(f"{ACCOUNT}/jobs/{NIGHTLY_JOB_ID}/run/", json={"cause": "x"}).status_code == 500
    assert api.get(f"{ACCOUNT}/jobs/{NIGHTLY_JOB_ID}/").status_code == 200  # other path and method
    emulator.clear_faults()
    assert api.post(f"{ACCOUNT}/jobs/{NIGHTLY_JOB_ID}/run/", json={"cause": "x"}).status_code == 200


def test_faults_apply_before_auth(emulator):
    emulator.inject_fault(Fault(r"/accounts/", status=502, times=1))
    response = requests.get(f"{emulator.url}{ACCOUNT}/", timeout=10)  # no token at all
    assert response.status_code == 502
    assert requests.get(f"{emulator.url}{ACCOUNT}/", timeout=10).status_code == 401


def test_slow_fault(emulator, api):
    emulator.inject_fault(Fault(r"/accounts/\d+/$", kind="slow", delay=0.3, times=2))
    started = time.monotonic()
    assert api.get(f"{ACCOUNT}/").status_code == 200
    assert time.monotonic() - started >= 0.3
    with pytest.raises(requests.exceptions.ReadTimeout):
        api.get(f"{ACCOUNT}/", timeout=0.1)


def test_truncate_fault_json_and_artifact(emulator, api):
    emulator.inject_fault(Fault(r"/runs/$", kind="truncate", times=1))
    with pytest.raises(BROKEN_BODY):
        _ = api.get(f"{ACCOUNT}/runs/").content
    run_id = emulator.seeded_runs[NIGHTLY_JOB_ID][-1]
    emulator.inject_fault(Fault(r"manifest\.json$", kind="truncate", times=1))
    with pytest.raises(BROKEN_BODY):
        _ = api.get(f"{ACCOUNT}/runs/{run_id}/artifacts/manifest.json").content
    assert api.get(f"{ACCOUNT}/runs/{run_id}/artifacts/manifest.json").status_code == 200


def test_corrupt_fault(emulator, api):
    emulator.inject_fault(Fault(r"/runs/\d+/$", kind="corrupt", times=1))
    response = api.get(f"{ACCOUNT}/runs/{emulator.seeded_runs[NIGHTLY_JOB_ID][0]}/")
    assert response.status_code == 200
    with pytest.raises(ValueError):
        response.json()


def test_drop_fault(emulator, api):
    emulator.inject_fault(Fault(r"/jobs/$", kind="drop", times=1))
    with pytest.raises(requests.exceptions.ConnectionError):
        api.get(f"{ACCOUNT}/jobs/")
    assert api.get(f"{ACCOUNT}/jobs/").status_code == 200


def test_drop_after_fault_processes_the_post_then_hangs_up(emulator, api):
    before = set(emulator.state.job_runs[NIGHTLY_JOB_ID])
    emulator.inject_fault(Fault(r"/jobs/\d+/run/$", kind="drop_after", method="POST", times=1))
    with pytest.raises(requests.exceptions.ConnectionError):
        api.post(f"{ACCOUNT}/jobs/{NIGHTLY_JOB_ID}/run/", json={"cause": "lost answer"})
    (created,) = set(emulator.state.job_runs[NIGHTLY_JOB_ID]) - before  # the run exists all the same
    assert emulator.state.runs[created].trigger.cause == "lost answer"
    assert [(r.method, r.status) for r in emulator.requests][-1] == ("POST", 0)


def test_control_plane_is_never_faulted(emulator):
    emulator.inject_fault(Fault(".*", kind="drop"))
    assert requests.get(f"{emulator.url}/_emulator/state", timeout=10).json()["data"]["faults"] == 1
    assert requests.delete(f"{emulator.url}/_emulator/faults", timeout=10).status_code == 200
    assert requests.get(f"{emulator.url}{ACCOUNT}/", timeout=10).status_code == 401


@pytest.mark.parametrize(
    "kwargs",
    [{"kind": "explode"}, {"kind": "status", "status": 200}, {"times": 0}, {"path_pattern": "(unclosed"}],
)
def test_fault_validation(kwargs):
    kwargs.setdefault("path_pattern", "/runs/")
    with pytest.raises(ValueError):
        Fault(**kwargs)


def test_request_log(emulator, api):
    emulator.reset_request_log()
    run_id = emulator.seeded_runs[NIGHTLY_JOB_ID][0]
    emulator.inject_fault(Fault(r"/jobs/$", kind="drop", times=1))
    api.get(f"{ACCOUNT}/runs/{run_id}/", params={"include_related": ["run_steps", "job"]})
    api.get(f"{ACCOUNT}/runs/{run_id}/artifacts/manifest.json", params={"step": 5})
    api.get(f"{ACCOUNT}/runs/999/")
    with pytest.raises(requests.exceptions.ConnectionError):
        api.get(f"{ACCOUNT}/jobs/")
    requests.get(f"{emulator.url}/_emulator/state", timeout=10)  # not recorded
    assert emulator.requests == [
        RequestRecord("GET", f"{ACCOUNT}/runs/{run_id}/", {"include_related": "run_steps,job"}, 200),
        RequestRecord("GET", f"{ACCOUNT}/runs/{run_id}/artifacts/manifest.json", {"step": "5"}, 200),
        RequestRecord("GET", f"{ACCOUNT}/runs/999/", {}, 404),
        RequestRecord("GET", f"{ACCOUNT}/jobs/", {}, 0),
    ]
    emulator.reset_request_log()
    assert emulator.requests == []


def test_request_log_is_thread_safe(emulator, api):
    import concurrent.futures

    emulator.reset_request_log()
    url = f"{emulator.url}{ACCOUNT}/"
    headers = dict(api.session.headers)

    def hit(_):
        with requests.Session() as session:
            return [session.get(url, headers=headers, timeout=10).status_code for _ in range(25)]

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        codes = [c for batch in pool.map(hit, range(8)) for c in batch]
    assert codes == [200] * 200
    assert len(emulator.requests) == 200
