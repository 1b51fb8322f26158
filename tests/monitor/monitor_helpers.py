"""Helpers for the monitor tests and benchmark: config files, the monitor as a real subprocess, small artifacts.

The benchmark imports this module too (``benchmarks/bench_monitor.py`` puts this folder on sys.path).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Callable, Optional

from airflow_provider_databand_dbt.testing.emulator import DEMO_ACCOUNT_ID, DEMO_TOKEN
from airflow_provider_databand_dbt.testing.scenarios import ARTIFACTS_DIR

TOKEN_ENV = "MONITOR_TEST_DBT_TOKEN"


def free_port() -> int:
    """A free loopback port (the monitor treats port 0 as "disabled", so tests pick one)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def write_config(
    path: Path,
    api_url: str,
    tracking_url: str,
    *,
    syncers: Optional[dict[str, dict[str, Any]]] = None,
    **main: Any,
) -> Path:
    """An INI config with ``[dbt_monitor]`` keys from ``main`` and one section per syncer.

    By default one syncer ``main`` reads the emulator's demo account with the token from ``TOKEN_ENV``.
    """
    main = {"interval": 0.3, "prometheus_port": 0, "prometheus_host": "127.0.0.1", "lease_seconds": 0, **main}
    main["tracking_url"] = tracking_url
    if syncers is None:
        syncers = {"main": {}}
    lines = ["[dbt_monitor]", *(f"{key} = {value}" for key, value in main.items() if value is not None), ""]
    for name, keys in syncers.items():
        keys = {"account_id": DEMO_ACCOUNT_ID, "api_url": api_url, "api_token_env": TOKEN_ENV, **keys}
        lines += [f"[dbt_monitor.syncer.{name}]", *(f"{k} = {v}" for k, v in keys.items() if v is not None), ""]
    path.write_text("\n".join(lines))
    return path


def monitor_env(**extra: str) -> dict[str, str]:
    env = {**os.environ, TOKEN_ENV: DEMO_TOKEN, "PYTHONUNBUFFERED": "1", **extra}
    env.pop("DBT_CLOUD_API_TOKEN", None)
    return env


def monitor_command(config: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "airflow_provider_databand_dbt.cli", "monitor", "--config", str(config), *args]


class MonitorProcess:
    """``databand-dbt monitor`` in a subprocess; its log goes to a file so a full pipe never blocks it."""

    def __init__(self, config: Path, *args: str, log_path: Optional[Path] = None, env: Optional[dict] = None) -> None:
        self.log_path = log_path or config.with_suffix(f".{time.monotonic_ns()}.log")
        self._log = open(self.log_path, "wb")
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            monitor_command(config, *args), stdout=self._log, stderr=subprocess.STDOUT, env=env or monitor_env()
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for_log(self, text: str, timeout: float = 30) -> None:
        wait_for(lambda: text in self.log() or self.proc.poll() is not None, timeout, f"log line {text!r}")
        assert text in self.log(), f"monitor exited ({self.proc.returncode}) before logging {text!r}:\n{self.log()}"

    def wait(self, timeout: float = 60) -> int:
        try:
            return self.proc.wait(timeout)
        finally:
            self._log.close()

    def terminate(self, timeout: float = 30) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.wait(timeout)

    def kill(self) -> None:
        self.proc.kill()
        self.wait(10)

    def __enter__(self) -> MonitorProcess:
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.proc.poll() is None:
            self.kill()
        self._log.close()


def run_monitor(
    config: Path, *args: str, timeout: float = 120, env: Optional[dict] = None
) -> subprocess.CompletedProcess:
    return subprocess.run(
        monitor_command(config, *args), capture_output=True, text=True, timeout=timeout, env=env or monitor_env()
    )


def wait_for(predicate: Callable[[], Any], timeout: float = 30, what: str = "condition", every: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(every)


def http_get(url: str, timeout: float = 5) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def scrape(port: int) -> dict[tuple[str, tuple], float]:
    """``/metrics`` parsed with prometheus_client's own parser: ``{(sample name, sorted labels): value}``."""
    from prometheus_client.parser import text_string_to_metric_families

    status, body = http_get(f"http://127.0.0.1:{port}/metrics")
    assert status == 200
    samples = {}
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def health(port: int) -> tuple[int, dict]:
    status, body = http_get(f"http://127.0.0.1:{port}/health")
    return status, json.loads(body)


def small_artifacts(directory: Path, scenario: str = "healthy_run", keep_results: int = 3) -> Path:
    """A copy of a scenario's artifacts cut down to a few nodes (manifest without macros, docs...).

    Still real dbt artifacts, read by the real collector; a run costs the same requests but little parsing.
    """
    source = ARTIFACTS_DIR / scenario
    if directory.exists():
        shutil.rmtree(directory)
    for step_dir in sorted(source.glob("step_*")):
        target = directory / step_dir.name
        target.mkdir(parents=True)
        kept: set[str] = set()
        results_file = step_dir / "run_results.json"
        if results_file.exists():
            results = json.loads(results_file.read_text())
            results["results"] = results["results"][:keep_results]
            kept = {r["unique_id"] for r in results["results"]}
            (target / "run_results.json").write_text(json.dumps(results))
        manifest_file = step_dir / "manifest.json"
        if manifest_file.exists():
            manifest = json.loads(manifest_file.read_text())
            small = {key: {} for key in manifest if isinstance(manifest[key], dict)}
            small["metadata"] = manifest["metadata"]
            small["nodes"] = {k: v for k, v in manifest["nodes"].items() if k in kept}
            small["sources"] = {k: v for k, v in manifest.get("sources", {}).items() if k in kept}
            small["parent_map"] = {k: v for k, v in manifest.get("parent_map", {}).items() if k in kept}
            small["child_map"] = {k: v for k, v in manifest.get("child_map", {}).items() if k in kept}
            for key, value in manifest.items():
                small.setdefault(key, value if not isinstance(value, dict) else {})
            (target / "manifest.json").write_text(json.dumps(small))
        for other in step_dir.iterdir():
            if other.name not in ("run_results.json", "manifest.json"):
                shutil.copy(other, target / other.name)
    return directory
