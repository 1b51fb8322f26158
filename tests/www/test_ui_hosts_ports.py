"""``databand-dbt ui`` as a real subprocess: it answers only to its own names (DNS rebinding) and a busy
port is one clear usage error before anything says "listening"."""

from __future__ import annotations

import http.client
import socket
import subprocess
import sys

import pytest
from ui_load import UiServer


def get_with_host(port: int, host_header: str, path: str = "/api/health") -> int:
    """Status of a request whose Host header says ``host_header`` (what a rebinding page's browser sends)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.putrequest("GET", path, skip_host=True)
        connection.putheader("Host", host_header)
        connection.endheaders()
        return connection.getresponse().status
    finally:
        connection.close()


@pytest.fixture()
def empty_store(sqlite_url):
    from airflow_provider_databand_dbt.tracking.store import TrackingStore

    TrackingStore(sqlite_url).close()
    return sqlite_url


def test_answers_only_its_own_hosts(empty_store, monkeypatch):
    monkeypatch.setenv("DATABAND_DBT_UI_ALLOWED_HOSTS", "from-env.example")
    with UiServer(
        empty_store, "--allowed-host", "tracking.example.com,proxy.example:8443", "--allowed-host", "other.example"
    ) as server:
        port = server.port
        for good in (
            f"127.0.0.1:{port}",
            f"localhost:{port}",
            f"LocalHost.:{port}",
            f"[::1]:{port}",
            "tracking.example.com",
            "tracking.example.com:443",
            "proxy.example:8443",
            f"other.example:{port}",
        ):
            assert get_with_host(port, good) == 200, good
        for bad in (
            f"attacker.example:{port}",
            "attacker.example",
            f"127.0.0.1:{port + 1}",
            "proxy.example:80",
            "from-env.example",
            f"localhost.attacker.example:{port}",
            "",
        ):
            assert get_with_host(port, bad) == 400, bad
            assert get_with_host(port, bad, "/runs/1") == 400, bad


def test_allowed_hosts_from_the_environment(empty_store, monkeypatch):
    monkeypatch.setenv("DATABAND_DBT_UI_ALLOWED_HOSTS", "from-env.example, second.example:81")
    with UiServer(empty_store) as server:
        assert get_with_host(server.port, "from-env.example:12345") == 200
        assert get_with_host(server.port, "second.example:81") == 200
        assert get_with_host(server.port, "second.example:82") == 400


def test_any_host_when_told(empty_store):
    with UiServer(empty_store, "--allowed-host", "*") as server:
        assert get_with_host(server.port, "whatever.example") == 200


def test_busy_port_is_one_usage_error_before_listening(empty_store):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "airflow_provider_databand_dbt.cli",
                "ui",
                "--port",
                str(port),
                "--tracking-url",
                empty_store,
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 2, result.stderr
    assert "listening" not in result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and str(port) in lines[0] and "already in use" in lines[0], result.stderr
