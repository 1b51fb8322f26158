"""Failures over real HTTP: retries, budgets, timeouts, typed errors with useful messages."""

from __future__ import annotations

import logging
import socket
import time

import pytest

from airflow_provider_databand_dbt.dbt_cloud.errors import (
    DbtCloudAuthError,
    DbtCloudConnectionError,
    DbtCloudError,
    DbtCloudForbiddenError,
    DbtCloudInvalidResponseError,
    DbtCloudNotFoundError,
    DbtCloudRateLimitError,
    DbtCloudServerError,
    DbtCloudTimeoutError,
)
from airflow_provider_databand_dbt.dbt_cloud.retry import RetryPolicy
from airflow_provider_databand_dbt.testing.emulator import DEMO_ACCOUNT_ID, HOURLY_JOB_ID, NIGHTLY_JOB_ID, Fault

ACCOUNT = DEMO_ACCOUNT_ID
RUN_PATH = r"/runs/\d+/$"


def run_id_of(emulator):
    return emulator.seeded_runs[NIGHTLY_JOB_ID][-1]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_429_with_retry_after_is_honoured(client, emulator, listener, caplog):
    emulator.inject_fault(Fault(RUN_PATH, status=429, retry_after=1, times=1))
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="airflow_provider_databand_dbt.dbt_cloud"):
        run = client.get_run(ACCOUNT, run_id_of(emulator))
    assert time.monotonic() - started >= 1.0
    assert run.id == run_id_of(emulator)
    assert listener.outcomes == ["429", "200"] and client.request_count == 2
    (warning,) = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert "HTTP 429, Retry-After 1 s" in warning and "retrying in 1.0 s" in warning


def test_429_storm_longer_than_the_budget_fails_fast(make_client, emulator):
    emulator.inject_fault(Fault(RUN_PATH, status=429, retry_after=30))
    client = make_client(retry=RetryPolicy(max_total_seconds=2))
    started = time.monotonic()
    with pytest.raises(DbtCloudRateLimitError) as info:
        client.get_run(ACCOUNT, run_id_of(emulator))
    assert time.monotonic() - started < 1.0
    assert info.value.retry_after == 30 and info.value.status_code == 429 and info.value.is_retryable
    assert client.request_count == 1
    assert "more than the remaining retry budget" in str(info.value)
    assert "Too many requests" in str(info.value)  # dbt Cloud's own user_message


def test_429_storm_within_each_wait_stops_at_the_budget(make_client, emulator):
    emulator.inject_fault(Fault(RUN_PATH, status=429, retry_after=0.2))
    client = make_client(retry=RetryPolicy(max_attempts=50, max_total_seconds=0.7))
    started = time.monotonic()
    with pytest.raises(DbtCloudRateLimitError):
        client.get_run(ACCOUNT, run_id_of(emulator))
    assert time.monotonic() - started < 2.0
    assert 2 <= client.request_count <= 5


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_errors_then_success(client, emulator, listener, status):
    emulator.inject_fault(Fault(RUN_PATH, status=status, times=2))
    assert client.get_run(ACCOUNT, run_id_of(emulator)).id == run_id_of(emulator)
    assert listener.outcomes == [str(status), str(status), "200"]


def test_persistent_server_error(make_client, emulator):
    emulator.inject_fault(Fault(RUN_PATH, status=500))
    client = make_client(retry=RetryPolicy(max_attempts=3, backoff_base=0.01))
    with pytest.raises(DbtCloudServerError) as info:
        client.get_run(ACCOUNT, run_id_of(emulator))
    assert client.request_count == 3 and info.value.status_code == 500
    assert "gave up after 3 attempts" in str(info.value)
    assert info.value.url == f"{emulator.url}/api/v2/accounts/1/runs/{run_id_of(emulator)}/"


def test_slow_answer_times_out(make_client, emulator, listener):
    emulator.inject_fault(Fault(RUN_PATH, kind="slow", delay=0.8))
    client = make_client(timeout=(1.0, 0.15), retry=RetryPolicy(max_attempts=2, backoff_base=0.01))
    started = time.monotonic()
    with pytest.raises(DbtCloudTimeoutError) as info:
        client.get_run(ACCOUNT, run_id_of(emulator))
    assert time.monotonic() - started < 0.8  # two waits for the slow answer would take 1.6 s
    assert listener.outcomes == ["timeout", "timeout"]
    assert "within 0.15 s" in str(info.value)


def test_connection_refused_on_loopback_fails_fast_and_names_host_and_port(make_client, listener, caplog):
    port = closed_port()
    # The default policy would retry 4 times over ~13 s; nothing will start listening meanwhile.
    client = make_client(api_url=f"http://127.0.0.1:{port}", retry=RetryPolicy())
    started = time.monotonic()
    with pytest.raises(DbtCloudConnectionError) as info:
        client.get_account(ACCOUNT)
    assert time.monotonic() - started < 2.0
    assert f"cannot reach 127.0.0.1:{port}" in str(info.value)
    assert "connection refused" in str(info.value) and "check the host/tenant" in str(info.value)
    assert listener.outcomes == ["connection"]
    assert not [r for r in caplog.records if "retrying" in r.getMessage()]


def test_scheme_less_loopback_url_to_a_plain_http_server_suggests_http(make_client, emulator):
    host_port = emulator.url.split("://", 1)[1]
    client = make_client(api_url=host_port, retry=RetryPolicy())
    started = time.monotonic()
    with pytest.raises(DbtCloudConnectionError) as info:
        client.get_account(ACCOUNT)
    assert time.monotonic() - started < 5.0
    assert f"use http://{host_port}" in str(info.value)


def test_wrong_token(make_client, emulator):
    client = make_client(token="dbtc_wrong_token_value")
    with pytest.raises(DbtCloudAuthError) as info:
        client.get_account(ACCOUNT)
    message = str(info.value)
    assert "check the API token" in message and "Job Admin" in message
    assert "Invalid token." in message and info.value.api_message == "Invalid token."
    assert info.value.status_code == 401 and client.request_count == 1


def test_token_of_another_account(make_client, emulator):
    emulator.add_account(2, "dbtc_token_of_account_two")
    client = make_client(token="dbtc_token_of_account_two")
    with pytest.raises((DbtCloudForbiddenError, DbtCloudNotFoundError)) as info:
        client.get_run(ACCOUNT, run_id_of(emulator))
    assert "account 1" in str(info.value) and client.request_count == 1


def test_unknown_run(client, emulator):
    with pytest.raises(DbtCloudNotFoundError) as info:
        client.get_run(ACCOUNT, 123)
    assert str(info.value).startswith(
        f"run 123 not found in account 1 on {emulator.url}: "
        "check the run id and that the token belongs to this account."
    )
    assert client.request_count == 1


def test_unknown_job_and_account(client):
    with pytest.raises(DbtCloudNotFoundError, match="job 999 not found in account 1"):
        client.get_job(ACCOUNT, 999)
    with pytest.raises((DbtCloudNotFoundError, DbtCloudForbiddenError), match="account 77"):
        client.get_account(77)


def test_corrupt_json(client, emulator):
    emulator.inject_fault(Fault(RUN_PATH, kind="corrupt", times=1))
    with pytest.raises(DbtCloudInvalidResponseError) as info:
        client.get_run(ACCOUNT, run_id_of(emulator))
    assert "not valid JSON" in str(info.value) and client.request_count == 1


def test_dropped_connection_is_retried_for_reads(client, emulator, listener):
    emulator.inject_fault(Fault(RUN_PATH, kind="drop", times=1))
    assert client.get_run(ACCOUNT, run_id_of(emulator)).id == run_id_of(emulator)
    assert listener.outcomes == ["connection", "200"]


@pytest.mark.parametrize(
    "fault",
    [{"kind": "drop"}, {"kind": "slow", "delay": 0.6}, {"status": 500}, {"status": 502}],
    ids=["drop", "read-timeout", "500", "502"],
)
def test_trigger_is_never_sent_twice_when_it_may_have_acted(make_client, emulator, fault):
    emulator.inject_fault(Fault(r"/jobs/\d+/run/$", times=1, **fault))
    client = make_client(timeout=(1.0, 0.3))
    with pytest.raises(DbtCloudError) as info:
        client.trigger_job_run(ACCOUNT, HOURLY_JOB_ID, "test")
    assert "may already have acted" in str(info.value)
    assert client.request_count == 1
    deadline = time.monotonic() + 2.0  # a slow answer is logged by the emulator once it is sent
    while not any(r.method == "POST" for r in emulator.requests) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len([r for r in emulator.requests if r.method == "POST"]) == 1


@pytest.mark.parametrize("status", [429, 503])
def test_trigger_is_retried_when_dbt_cloud_did_not_act(client, emulator, status):
    emulator.inject_fault(Fault(r"/jobs/\d+/run/$", status=status, retry_after=0, times=1))
    run = client.trigger_job_run(ACCOUNT, HOURLY_JOB_ID, "test")
    assert run.job_id == HOURLY_JOB_ID
    assert [r.status for r in emulator.requests if r.method == "POST"] == [status, 200]


def test_a_refused_trigger_to_a_remote_host_may_be_retried():
    """A refused connection never reached dbt Cloud, so even a trigger may be sent again (loopback aside)."""
    import requests

    from airflow_provider_databand_dbt.dbt_cloud.failures import Call, Target, exception_failure

    with pytest.raises(requests.ConnectionError) as refused:
        requests.post(f"http://127.0.0.1:{closed_port()}/", timeout=2)
    policy = RetryPolicy()
    remote = Call("POST", "https://emea.dbt.com", "/api/v2/accounts/1/jobs/2/run/", Target("job", 2, 1))
    failure = exception_failure(refused.value, remote, (1.0, 1.0), policy)
    assert (failure.reason, failure.retryable, failure.may_have_acted) == ("connection refused", True, False)
    local = Call("POST", "http://127.0.0.1:9", "/api/v2/accounts/1/jobs/2/run/", Target("job", 2, 1))
    assert exception_failure(refused.value, local, (1.0, 1.0), policy).retryable is False


def test_listener_errors_do_not_break_requests(make_client, emulator, caplog):
    def broken(method, route, outcome):
        raise RuntimeError("metrics down")

    client = make_client(request_listener=broken)
    assert client.get_account(ACCOUNT).id == ACCOUNT
    assert any("request_listener failed" in r.getMessage() for r in caplog.records)
