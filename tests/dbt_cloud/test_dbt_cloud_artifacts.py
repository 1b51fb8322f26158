"""Artifact downloads: streamed to a temp file, checked for truncation and size, never left half-written."""

from __future__ import annotations

import pytest
from scripted_server import Canned, ScriptedServer

from airflow_provider_databand_dbt.dbt_cloud.client import DbtCloudClient
from airflow_provider_databand_dbt.dbt_cloud.errors import ArtifactError, DbtCloudNotFoundError, DbtCloudTimeoutError
from airflow_provider_databand_dbt.dbt_cloud.retry import RetryPolicy
from airflow_provider_databand_dbt.testing.emulator import DEMO_ACCOUNT_ID, NIGHTLY_JOB_ID, Fault

ACCOUNT = DEMO_ACCOUNT_ID
MANIFEST = r"/artifacts/manifest.json$"


@pytest.fixture()
def run_id(emulator):
    return emulator.seeded_runs[NIGHTLY_JOB_ID][-1]


def test_download_streams_to_the_given_directory(client, run_id, tmp_path, listener):
    path = client.download_artifact(ACCOUNT, run_id, "manifest.json", directory=tmp_path)
    assert list(tmp_path.iterdir()) == [path]
    assert path.stat().st_size > 100_000 and path.read_bytes().startswith(b"{")
    assert listener.calls == [("GET", "/api/v2/accounts/{account_id}/runs/{run_id}/artifacts/{path}", "200")]


def test_missing_artifact_is_not_found(client, run_id, tmp_path):
    with pytest.raises(DbtCloudNotFoundError) as info:
        client.download_artifact(ACCOUNT, run_id, "catalog.json", step=1, directory=tmp_path)
    assert f"artifact 'catalog.json' of run {run_id} (step 1) not found in account 1" in str(info.value)
    assert list(tmp_path.iterdir()) == [] and client.request_count == 1


def test_truncated_artifact(make_client, emulator, run_id, tmp_path, listener):
    emulator.inject_fault(Fault(MANIFEST, kind="truncate"))
    client = make_client(retry=RetryPolicy(max_attempts=2, backoff_base=0.01))
    with pytest.raises(ArtifactError) as info:
        client.download_artifact(ACCOUNT, run_id, "manifest.json", directory=tmp_path)
    message = str(info.value)
    assert "truncated: got " in message and " bytes" in message
    got, expected = message.split("truncated: got ")[1].split(" bytes")[0].split(" of ")
    assert 0 < int(got) < int(expected)
    assert list(tmp_path.iterdir()) == []
    assert listener.outcomes == ["truncated", "truncated"]


def test_truncated_once_is_downloaded_again(client, emulator, run_id, tmp_path):
    emulator.inject_fault(Fault(MANIFEST, kind="truncate", times=1))
    path = client.download_artifact(ACCOUNT, run_id, "manifest.json", directory=tmp_path)
    assert list(tmp_path.iterdir()) == [path] and client.request_count == 2
    assert path.read_bytes().rstrip().endswith(b"}")


def test_size_limit_from_content_length(make_client, run_id, tmp_path):
    client = make_client(max_artifact_bytes=1000)
    with pytest.raises(ArtifactError, match="too large"):
        client.download_artifact(ACCOUNT, run_id, "manifest.json", directory=tmp_path)
    assert list(tmp_path.iterdir()) == [] and client.request_count == 1
    assert client.download_artifact(ACCOUNT, run_id, "manifest.json", directory=tmp_path, max_bytes=10**9).exists()


def test_size_limit_while_streaming_without_content_length(tmp_path):
    body = b"x" * 300_000
    with ScriptedServer(lambda method, path: Canned(200, body, {"Connection": "close"})) as server:
        with DbtCloudClient("dbtc_x", server.url, max_artifact_bytes=100_000) as client:
            with pytest.raises(ArtifactError, match="more than 100000 bytes arrived"):
                client.download_artifact(1, 2, "manifest.json", directory=tmp_path)
            assert list(tmp_path.iterdir()) == []
            path = client.download_artifact(1, 2, "manifest.json", directory=tmp_path, max_bytes=300_000)
            assert path.read_bytes() == body


def test_slow_artifact_times_out_and_leaves_nothing(make_client, emulator, run_id, tmp_path):
    emulator.inject_fault(Fault(MANIFEST, kind="slow", delay=0.5))
    client = make_client(timeout=(1.0, 0.1), retry=RetryPolicy(max_attempts=1))
    with pytest.raises(DbtCloudTimeoutError):
        client.download_artifact(ACCOUNT, run_id, "manifest.json", directory=tmp_path)
    assert list(tmp_path.iterdir()) == []
