"""``databand-dbt ui`` as a real subprocess for the tests: its command line, a free port, and a running server."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def ui_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "airflow_provider_databand_dbt.cli", "ui", *args]


def wait_until_up(process: subprocess.Popen, url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"databand-dbt ui exited with {process.returncode}: {process.stderr.read()}")
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"databand-dbt ui did not answer on {url} within {timeout}s")


@contextmanager
def running_ui(tracking_url: str, *args: str) -> Iterator[str]:
    """Serve ``tracking_url`` on a free loopback port until the block ends; yields the base URL."""
    port = free_port()
    process = subprocess.Popen(
        ui_command("--port", str(port), "--tracking-url", tracking_url, *args),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(process, f"{base}/api/health")
        yield base
    finally:
        process.terminate()
        process.communicate(timeout=30)
