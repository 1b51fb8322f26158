"""No request outlives its deadline and no JSON answer outgrows its cap, against real misbehaving servers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time

import pytest
from misbehaving_server import (
    ENVELOPE_HEAD,
    ENVELOPE_TAIL,
    MisbehavingServer,
    gzipped,
    huge_json,
    serve_gzip_bomb,
    trickle_body,
    trickle_headers,
)

from airflow_provider_databand_dbt.dbt_cloud.client import DbtCloudClient
from airflow_provider_databand_dbt.dbt_cloud.errors import (
    ArtifactError,
    DbtCloudConfigError,
    DbtCloudConnectionError,
    DbtCloudInvalidResponseError,
    DbtCloudTimeoutError,
)
from airflow_provider_databand_dbt.dbt_cloud.retry import RetryPolicy
from airflow_provider_databand_dbt.dbt_cloud.transport import DEFAULT_MAX_RESPONSE_BYTES, DEFAULT_REQUEST_DEADLINE

TOKEN = "dbtc_limits_test_token_00000"
ONE_TRY = RetryPolicy(max_attempts=1)


def client_for(server: MisbehavingServer, **options) -> DbtCloudClient:
    options.setdefault("retry", ONE_TRY)
    options.setdefault("timeout", (2.0, 5.0))  # every single read succeeds well within this
    return DbtCloudClient(TOKEN, server.url, **options)


def test_documented_defaults():
    assert DEFAULT_REQUEST_DEADLINE == 600.0
    assert DEFAULT_MAX_RESPONSE_BYTES == 32 * 1024**2


@pytest.mark.parametrize("protocol", ["HTTP/1.1", "HTTP/1.0"])
@pytest.mark.parametrize("behaviour", [trickle_body(), trickle_headers()], ids=["body", "headers"])
def test_a_trickling_host_hits_the_request_deadline(behaviour, protocol):
    with MisbehavingServer(behaviour, protocol) as server, client_for(server, request_deadline=1.5) as client:
        started = time.monotonic()
        with pytest.raises(DbtCloudTimeoutError) as info:
            client.get_account(1)
        elapsed = time.monotonic() - started
    assert 1.4 < elapsed < 4.0
    assert "request deadline of 1.5 s (request_deadline)" in str(info.value)
    assert TOKEN not in str(info.value)


def test_a_trickled_artifact_download_hits_the_deadline_and_leaves_no_file(tmp_path):
    with MisbehavingServer(trickle_body()) as server, client_for(server, request_deadline=1.0) as client:
        started = time.monotonic()
        with pytest.raises(DbtCloudTimeoutError):
            client.download_artifact(1, 2, "manifest.json", directory=tmp_path)
    assert time.monotonic() - started < 3.5
    assert list(tmp_path.iterdir()) == []


def test_retries_share_the_overall_deadline():
    retry = RetryPolicy(max_attempts=10, max_total_seconds=60, backoff_base=0.01, backoff_max=0.01)
    with MisbehavingServer(trickle_body()) as server, client_for(server, request_deadline=60, retry=retry) as client:
        started = time.monotonic()
        with pytest.raises(DbtCloudTimeoutError) as info:
            with client.deadline(2.0, "collecting run 7"):
                client.get_account(1)
        assert time.monotonic() - started < 4.5
    assert "deadline of 2 s for collecting run 7" in str(info.value)


def test_close_aborts_a_request_stuck_in_another_thread():
    with MisbehavingServer(trickle_body()) as server:
        client = client_for(server, request_deadline=None)
        errors: list[BaseException] = []

        def stuck():
            try:
                client.get_account(1)
            except BaseException as exc:  # noqa: BLE001 - handed to the test thread
                errors.append(exc)

        worker = threading.Thread(target=stuck)
        worker.start()
        time.sleep(0.7)  # headers arrived, the body trickles
        started = time.monotonic()
        client.close()
        worker.join(5)
        assert not worker.is_alive() and time.monotonic() - started < 1.5
    assert isinstance(errors[0], DbtCloudConnectionError) and "closed" in str(errors[0])
    with pytest.raises(DbtCloudConnectionError):
        client.get_account(1)


@pytest.mark.parametrize("value", [0, -1, True, "10", float("inf")])
def test_limits_are_validated(value):
    for option in ("request_deadline", "max_response_bytes"):
        with pytest.raises(DbtCloudConfigError, match=option):
            DbtCloudClient(TOKEN, "http://127.0.0.1:9", **{option: value})


PROBE = """
import json, sys
def peak_rss_mb():
    # VmHWM is this process's own peak; ru_maxrss would also count the parent's RSS inherited through exec.
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024
from airflow_provider_databand_dbt.dbt_cloud.client import DbtCloudClient
from airflow_provider_databand_dbt.dbt_cloud.errors import DbtCloudError
from airflow_provider_databand_dbt.dbt_cloud.retry import RetryPolicy
client = DbtCloudClient("dbtc_limits_test_token_00000", sys.argv[1], retry=RetryPolicy(max_attempts=1))
try:
    client.get_account(1)
    outcome = "ok"
except DbtCloudError as exc:
    outcome = f"{type(exc).__name__}: {exc}"
print(json.dumps({"outcome": outcome, "max_rss_mb": peak_rss_mb()}))
"""


@pytest.mark.parametrize("behaviour", [serve_gzip_bomb, huge_json()], ids=["gzip-bomb", "300MB-json"])
def test_oversized_json_is_refused_with_small_memory(behaviour):
    with MisbehavingServer(behaviour) as server:
        result = subprocess.run([sys.executable, "-c", PROBE, server.url], capture_output=True, text=True, timeout=120)
    probe = json.loads(result.stdout)
    assert probe["outcome"].startswith("DbtCloudInvalidResponseError"), probe
    assert "max_response_bytes limit of 33554432 bytes" in probe["outcome"]
    assert probe["max_rss_mb"] < 200, probe


def test_json_cap_is_configurable():
    with MisbehavingServer(huge_json(2 * 1024**2)) as server:
        with client_for(server, max_response_bytes=1024**2) as small, pytest.raises(DbtCloudInvalidResponseError):
            small.get_account(1)
        with client_for(server, max_response_bytes=4 * 1024**2) as big:
            assert big.get_account(1).id == 1


def test_cli_collect_gives_up_at_the_collect_deadline(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("DBT_CLOUD")}
    env["DBT_CLOUD_API_TOKEN"] = TOKEN
    with MisbehavingServer(trickle_body()) as server:
        started = time.monotonic()
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "airflow_provider_databand_dbt.cli",
                "collect",
                "--account-id",
                "1",
                "--run-id",
                "5",
                "--api-url",
                server.url,
                "--no-store",
                "--collect-deadline",
                "2",
                "--request-deadline",
                "100",
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        elapsed = time.monotonic() - started
    assert result.returncode == 1, result.stderr
    assert "deadline of 2 s for collecting run 5" in result.stderr
    assert "Traceback" not in result.stderr and TOKEN not in result.stderr
    assert elapsed < 10


def test_gzip_json_answers_still_decode_and_count_inflated_bytes():
    body = ENVELOPE_HEAD + b"n" * (3 * 1024**2) + ENVELOPE_TAIL
    with MisbehavingServer(gzipped(body)) as server:
        with client_for(server, max_response_bytes=4 * 1024**2) as client:
            assert client.get_account(1).name == "n" * (3 * 1024**2)
        with (
            client_for(server, max_response_bytes=2 * 1024**2) as client,
            pytest.raises(DbtCloudInvalidResponseError) as info,
        ):
            client.get_account(1)
    assert "once decompressed" in str(info.value)


ARTIFACT_PROBE = """
import json, sys
def peak_rss_mb():
    # VmHWM is this process's own peak; ru_maxrss would also count the parent's RSS inherited through exec.
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024
from airflow_provider_databand_dbt.dbt_cloud.client import DbtCloudClient
from airflow_provider_databand_dbt.dbt_cloud.errors import DbtCloudError
from airflow_provider_databand_dbt.dbt_cloud.retry import RetryPolicy
client = DbtCloudClient("dbtc_limits_test_token_00000", sys.argv[1], retry=RetryPolicy(max_attempts=1),
                        max_artifact_bytes=64 * 1024**2)
try:
    client.download_artifact(1, 2, "manifest.json", directory=sys.argv[2])
    outcome = "ok"
except DbtCloudError as exc:
    outcome = f"{type(exc).__name__}: {exc}"
print(json.dumps({"outcome": outcome, "max_rss_mb": peak_rss_mb()}))
"""


def test_a_gzip_bomb_artifact_stops_at_max_artifact_bytes_with_small_memory(tmp_path):
    with MisbehavingServer(serve_gzip_bomb) as server:
        result = subprocess.run(
            [sys.executable, "-c", ARTIFACT_PROBE, server.url, str(tmp_path)],
            capture_output=True,
            text=True,
            timeout=120,
        )
    probe = json.loads(result.stdout)
    assert probe["outcome"].startswith(ArtifactError.__name__) and "too large" in probe["outcome"], probe
    assert probe["max_rss_mb"] < 200, probe
    assert list(tmp_path.iterdir()) == []
