"""API misbehaviour the emulator does not model, served by a scripted loopback server."""

from __future__ import annotations

import json
from email.utils import formatdate
from urllib.parse import parse_qs, urlsplit

import pytest
from scripted_server import Canned, ScriptedServer

from airflow_provider_databand_dbt import __version__
from airflow_provider_databand_dbt.dbt_cloud.client import DbtCloudClient
from airflow_provider_databand_dbt.dbt_cloud.errors import (
    DbtCloudAuthError,
    DbtCloudError,
    DbtCloudInvalidResponseError,
)
from airflow_provider_databand_dbt.dbt_cloud.retry import RetryPolicy

TOKEN = "dbtc_scripted_server_token"
FAST = RetryPolicy(max_attempts=3, backoff_base=0.01, backoff_max=0.01)


def run(run_id: int) -> dict:
    return {"id": run_id, "status": 10, "created_at": "2026-11-25 10:00:00.000000+00:00"}


def offset_of(path: str) -> int:
    return int(parse_qs(urlsplit(path).query).get("offset", ["0"])[0])


def test_headers_sent():
    with ScriptedServer(lambda m, p: Canned.envelope({"id": 1, "name": "a"})) as server:
        with DbtCloudClient(TOKEN, server.url) as client:
            client.get_account(1)
    headers = server.seen[0].headers
    assert headers["Authorization"] == f"Token {TOKEN}"
    assert headers["User-Agent"].startswith(f"airflow-provider-databand-dbt/{__version__} ")
    assert headers["Accept"] == "application/json"


def test_iter_runs_stops_when_total_count_lies():
    def responder(method, path):
        offset = offset_of(path)
        runs = [run(i) for i in range(offset + 1, min(offset + 100, 150) + 1)]
        return Canned.envelope(runs, extra={"pagination": {"count": len(runs), "total_count": 1000}})

    with ScriptedServer(responder) as server, DbtCloudClient(TOKEN, server.url) as client:
        runs = list(client.iter_runs(1))
    assert [r.id for r in runs] == list(range(1, 151))
    assert [offset_of(s.path) for s in server.seen] == [0, 100, 150]


def test_iter_runs_stops_when_offset_is_ignored():
    page = [run(i) for i in range(1, 101)]
    with ScriptedServer(lambda m, p: Canned.envelope(page, extra={"pagination": {"total_count": 10**6}})) as server:
        with DbtCloudClient(TOKEN, server.url) as client:
            assert len(list(client.iter_runs(1))) == 100
    assert len(server.seen) == 2


def test_iter_runs_without_total_count_stops_at_a_short_page():
    def responder(method, path):
        offset = offset_of(path)
        return Canned.envelope([run(i) for i in range(offset + 1, min(offset + 10, 25) + 1)])

    with ScriptedServer(responder) as server, DbtCloudClient(TOKEN, server.url) as client:
        assert len(list(client.iter_runs(1, page_size=10))) == 25
    assert len(server.seen) == 3


@pytest.mark.parametrize(
    ("reply", "words"),
    [
        (Canned(200, b"<html>Sign in</html>", {"Content-Type": "text/html"}), "not valid JSON (text/html"),
        (Canned(200, b'{"status": {"code": 200}}', {}), "unexpected shape"),
        (Canned.envelope({"id": "one", "status": 10}), "unexpected shape (Expected `int`, got `str` - at `$.data.id`)"),
        (Canned.envelope(None), "unexpected shape"),
        (
            Canned(200, json.dumps({"status": {"is_success": False}, "data": run(1)}).encode(), {}),
            "says the request failed",
        ),
    ],
)
def test_unusable_answers(reply, words):
    with ScriptedServer(lambda m, p: reply) as server, DbtCloudClient(TOKEN, server.url, retry=FAST) as client:
        with pytest.raises(DbtCloudInvalidResponseError) as info:
            client.get_run(1, 1)
    assert words in str(info.value) and "check that the API URL points at dbt Cloud" in str(info.value)
    assert len(server.seen) == 1


def test_retry_after_as_http_date():
    replies = [Canned.envelope(None, 503, **{"Retry-After": formatdate(0, usegmt=True)}), Canned.envelope(run(1))]
    with ScriptedServer(lambda m, p: replies.pop(0)) as server, DbtCloudClient(TOKEN, server.url, retry=FAST) as client:
        assert client.get_run(1, 1).id == 1
    assert len(server.seen) == 2


def test_other_client_errors_are_not_retried():
    with ScriptedServer(lambda m, p: Canned.envelope(None, 400)) as server:
        with DbtCloudClient(TOKEN, server.url, retry=FAST) as client, pytest.raises(DbtCloudError) as info:
            client.list_runs(1)
    assert type(info.value) is DbtCloudError and info.value.status_code == 400
    assert "refused GET" in str(info.value) and len(server.seen) == 1


def test_token_is_not_forwarded_on_redirect_to_another_host():
    with ScriptedServer(lambda m, p: Canned(401, b"{}", {})) as elsewhere:
        location = f"{elsewhere.url}/api/v2/accounts/1/"
        with ScriptedServer(lambda m, p: Canned(302, b"", {"Location": location})) as server:
            with DbtCloudClient(TOKEN, server.url, retry=FAST) as client, pytest.raises(DbtCloudAuthError):
                client.get_account(1)
    assert server.seen[0].headers["Authorization"] == f"Token {TOKEN}"
    assert "Authorization" not in elsewhere.seen[0].headers
