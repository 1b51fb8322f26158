"""The two timeout messages word for word: a silent host (read timeout) and a trickling one (request deadline).

Both are built by one helper in ``failures.py``; these pin what the user reads so sharing it changed nothing.
Real HTTP against a loopback server; one attempt each.
"""

from __future__ import annotations

import time

import pytest
from loopback_http import send_head
from misbehaving_server import MisbehavingServer, trickle_body

from airflow_provider_databand_dbt.dbt_cloud.client import DbtCloudClient
from airflow_provider_databand_dbt.dbt_cloud.errors import DbtCloudTimeoutError
from airflow_provider_databand_dbt.dbt_cloud.retry import RetryPolicy

TOKEN = "timeout-messages-token"
ONE_TRY = RetryPolicy(max_attempts=1)


def _silent(handler) -> None:
    """Headers, then nothing: the client's read timeout fires."""
    send_head(handler, {"Content-Type": "application/json", "Content-Length": "100"})
    time.sleep(3)


def _error(server: MisbehavingServer, **options) -> DbtCloudTimeoutError:
    with (
        DbtCloudClient(TOKEN, server.url, retry=ONE_TRY, **options) as client,
        pytest.raises(DbtCloudTimeoutError) as info,
    ):
        client.get_account(1)
    return info.value


def test_read_timeout_message():
    with MisbehavingServer(_silent) as server:
        error = _error(server, timeout=(2.0, 0.5))
    call = f"GET {server.url}/api/v2/accounts/1/"
    assert str(error).startswith(f"dbt Cloud did not answer {call} within 0.5 s (")
    assert str(error).endswith("): dbt Cloud may be slow or overloaded; try again later or raise the read timeout.")
    assert error.url == f"{server.url}/api/v2/accounts/1/"
    assert TOKEN not in str(error)


def test_request_deadline_message():
    with MisbehavingServer(trickle_body(every=0.2)) as server:
        error = _error(server, timeout=(2.0, 5.0), request_deadline=1.0)
    call = f"GET {server.url}/api/v2/accounts/1/"
    assert str(error).startswith(
        f"dbt Cloud did not finish answering {call} within the request deadline of 1 s (request_deadline) ("
    )
    assert str(error).endswith(
        "): the host sends too slowly (a proxy or network problem); try again later or raise the deadline."
    )
    assert error.url == f"{server.url}/api/v2/accounts/1/"
