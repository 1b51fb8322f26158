"""``databand-dbt emulator`` as a real subprocess: answers on its port, stops cleanly on signals."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys

import pytest
import requests

from airflow_provider_databand_dbt.testing.emulator import DEMO_ACCOUNT_ID, DEMO_TOKEN

COMMAND = [sys.executable, "-m", "airflow_provider_databand_dbt.cli"]


def start(*args: str) -> tuple[subprocess.Popen, str, list[str]]:
    proc = subprocess.Popen(
        [*COMMAND, "emulator", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ, PYTHONUNBUFFERED="1"),
    )
    first = proc.stdout.readline()
    found = re.search(r"(http://127\.0\.0\.1:\d+)", first)
    if not found:
        proc.kill()
        raise AssertionError(f"no URL in {first!r}; stderr: {proc.stderr.read()}")
    lines = [first]
    while "Ctrl+C" not in lines[-1]:
        lines.append(proc.stdout.readline())
        assert lines[-1], "output ended early"
    return proc, found.group(1), lines


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_serves_then_exits_0_on_signal(sig):
    proc, url, lines = start("--runs-per-job", "2", "--queued-seconds", "0", "--running-seconds", "0.1")
    try:
        text = "".join(lines)
        assert f"export DBT_CLOUD_API_TOKEN={DEMO_TOKEN}" in text
        assert f"account id: {DEMO_ACCOUNT_ID}" in text
        headers = {"Authorization": f"Token {DEMO_TOKEN}"}
        body = requests.get(f"{url}/api/v2/accounts/{DEMO_ACCOUNT_ID}/runs/", headers=headers, timeout=10).json()
        assert body["extra"]["pagination"]["total_count"] == 4
        lifecycle = requests.get(f"{url}/_emulator/state", timeout=10).json()["data"]["lifecycle"]
        assert lifecycle == {"queued_seconds": 0.0, "running_seconds": 0.1}
    finally:
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=15)
    assert proc.returncode == 0, err
    assert "emulator stopped" in out
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(f"{url}/_emulator/state", timeout=2)


def test_refuses_remote_host_without_flag():
    result = subprocess.run(
        [*COMMAND, "emulator", "--host", "0.0.0.0", "--port", "0"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert "--allow-remote" in result.stderr


def test_port_in_use_is_a_clear_error():
    proc, url, _ = start()
    try:
        port = url.rsplit(":", 1)[1]
        result = subprocess.run([*COMMAND, "emulator", "--port", port], capture_output=True, text=True, timeout=60)
        assert result.returncode == 2 and f"cannot listen on 127.0.0.1:{port}" in result.stderr
    finally:
        proc.terminate()
        proc.communicate(timeout=15)
    assert proc.returncode == 0


def test_help_lists_the_options():
    result = subprocess.run([*COMMAND, "emulator", "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    for option in ("--host", "--port", "--runs-per-job", "--queued-seconds", "--running-seconds", "--allow-remote"):
        assert option in result.stdout
