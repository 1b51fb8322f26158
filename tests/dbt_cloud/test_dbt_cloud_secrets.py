"""The API token never shows up: not in errors, their chains, tracebacks, pickles, reprs or logs."""

from __future__ import annotations

import logging
import pickle
import socket
import traceback

import pytest

from airflow_provider_databand_dbt.dbt_cloud.client import DbtCloudClient
from airflow_provider_databand_dbt.dbt_cloud.errors import DbtCloudError
from airflow_provider_databand_dbt.dbt_cloud.retry import RetryPolicy
from airflow_provider_databand_dbt.testing.emulator import DEMO_ACCOUNT_ID, HOURLY_JOB_ID, NIGHTLY_JOB_ID, Fault

SECRET = "dbtc_LEAKPROBE_9f8e7d6c5b4a39281706"
FAST = RetryPolicy(max_attempts=2, max_total_seconds=3, backoff_base=0.01, backoff_max=0.01)


def chain(exc: BaseException):
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def assert_no_secret(exc: BaseException) -> None:
    texts = ["".join(traceback.format_exception(type(exc), exc, exc.__traceback__))]
    for item in chain(exc):
        texts += [str(item), repr(item), repr(item.args), repr(vars(item))]
    if isinstance(exc, DbtCloudError):
        texts.append(repr(vars(pickle.loads(pickle.dumps(exc)))))
    for text in texts:
        assert SECRET not in text
        assert "LEAKPROBE" not in text


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_token_never_leaks(emulator, caplog, tmp_path):
    caplog.set_level(logging.DEBUG)  # every logger, urllib3 included
    run_id = emulator.seeded_runs[NIGHTLY_JOB_ID][-1]
    errors: list[BaseException] = []

    def expect_error(call, *args, **kwargs):
        with pytest.raises(DbtCloudError) as info:
            call(*args, **kwargs)
        errors.append(info.value)

    unknown = DbtCloudClient(SECRET, emulator.url, retry=FAST)
    expect_error(unknown.get_run, DEMO_ACCOUNT_ID, run_id)  # 401: the token is not known there

    emulator.add_account(2, SECRET)
    client = DbtCloudClient(SECRET, emulator.url, retry=FAST, timeout=(1.0, 0.2))
    assert SECRET not in repr(client) and SECRET not in str(client)
    expect_error(client.get_run, DEMO_ACCOUNT_ID, run_id)  # 403: another account
    expect_error(client.get_run, 2, 123)  # 404
    expect_error(client.get_account, SECRET)  # token passed as the account id
    emulator.add_account(DEMO_ACCOUNT_ID, SECRET)
    faults = [
        Fault(r"/runs/\d+/$", status=429, retry_after=60),
        Fault(r"/runs/\d+/$", status=500),
        Fault(r"/runs/\d+/$", kind="slow", delay=0.4),
        Fault(r"/runs/\d+/$", kind="corrupt"),
        Fault(r"/runs/\d+/$", kind="drop"),
    ]
    for fault in faults:
        emulator.clear_faults()
        emulator.inject_fault(fault)
        expect_error(client.get_run, DEMO_ACCOUNT_ID, run_id)
    emulator.clear_faults()
    emulator.inject_fault(Fault(r"/jobs/\d+/run/$", kind="drop"))
    expect_error(client.trigger_job_run, DEMO_ACCOUNT_ID, HOURLY_JOB_ID, "probe")
    emulator.inject_fault(Fault(r"manifest.json$", kind="truncate"))
    expect_error(client.download_artifact, DEMO_ACCOUNT_ID, run_id, "manifest.json", directory=tmp_path)
    refused = DbtCloudClient(SECRET, f"http://127.0.0.1:{closed_port()}", retry=FAST)
    expect_error(refused.get_account, 1)
    expect_error(DbtCloudClient, SECRET + " extra", emulator.url)  # malformed token

    assert len(errors) == 13
    for error in errors:
        assert_no_secret(error)
    assert caplog.records, "expected DEBUG/WARNING lines from the client and urllib3"
    for record in caplog.records:
        text = record.getMessage() + (record.exc_text or "")
        if record.exc_info:
            text += "".join(traceback.format_exception(*record.exc_info))
        assert "LEAKPROBE" not in text, record.name
    for each in (unknown, client, refused):
        each.close()
