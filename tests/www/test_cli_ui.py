"""``databand-dbt ui`` as a real subprocess: loopback only unless told, serves the store, clear errors."""

from __future__ import annotations

import subprocess

import httpx
import pytest
from ui_process import free_port, ui_command, wait_until_up

from airflow_provider_databand_dbt.cli.ui import is_loopback


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "localhost", "::1", "[::1]"])
def test_loopback_hosts(host):
    assert is_loopback(host)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.10", "example.com"])
def test_remote_hosts(host):
    assert not is_loopback(host)


@pytest.mark.parametrize("host", ["0.0.0.0", "10.1.2.3"])
def test_refuses_non_loopback_without_allow_remote(host, sqlite_url):
    result = subprocess.run(
        ui_command("--host", host, "--tracking-url", sqlite_url), capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert "no authentication" in result.stderr and "--allow-remote" in result.stderr


def test_unusable_store_fails_fast(tmp_path):
    url = f"sqlite:///{tmp_path / 'no-such-dir' / 'tracking.db'}"
    result = subprocess.run(
        ui_command("--port", str(free_port()), "--tracking-url", url), capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1
    assert "does not exist" in result.stderr
    assert "Traceback" not in result.stderr


def test_serves_the_store_until_stopped(sqlite_url):
    from airflow_provider_databand_dbt.tracking.store import TrackingStore

    TrackingStore(sqlite_url).close()  # an empty store
    port = free_port()
    process = subprocess.Popen(
        ui_command("--port", str(port), "--tracking-url", sqlite_url),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until_up(process, f"http://127.0.0.1:{port}/api/health")
        assert httpx.get(f"http://127.0.0.1:{port}/api/health").json()["runs"] == 0
        page = httpx.get(f"http://127.0.0.1:{port}/")
        assert "No runs tracked yet" in page.text
    finally:
        process.terminate()
        out, _ = process.communicate(timeout=30)
    assert f"listening on http://127.0.0.1:{port}/" in out
    assert "no authentication" in out
