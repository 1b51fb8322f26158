"""A ``databand-dbt collect`` killed mid-download leaves nothing in the temp folder: SIGTERM cleans up at
once, and what a SIGKILL left is swept by the next collection. Real subprocesses, real downloads."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from misbehaving_server import MisbehavingServer, proxy_then_stall

from airflow_provider_databand_dbt.collector.scratch import PREFIX, host_tag, sweep_stale
from airflow_provider_databand_dbt.testing.emulator import DEMO_ACCOUNT_ID, DEMO_TOKEN, NIGHTLY_JOB_ID

PARTIAL = 8 * 1024 * 1024


def start_collect(api_url: str, run_id: int, tmpdir: Path, *extra: str) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DBT_CLOUD")}
    env.update(DBT_CLOUD_API_TOKEN=DEMO_TOKEN, TMPDIR=str(tmpdir))
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "airflow_provider_databand_dbt.cli",
            "collect",
            "--account-id",
            str(DEMO_ACCOUNT_ID),
            "--run-id",
            str(run_id),
            "--api-url",
            api_url,
            "--no-store",
            *extra,
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_partial_download(tmpdir: Path, process: subprocess.Popen) -> Path:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        for path in tmpdir.glob("databand-dbt-*/dbt-cloud-artifact-*"):
            if path.stat().st_size >= PARTIAL:
                return path
        time.sleep(0.1)
    process.kill()
    raise AssertionError(f"no partial download appeared: {process.communicate()}")


@pytest.fixture()
def stalling(emulator):
    """A dbt Cloud host whose manifest download stops after 8 MiB of an announced 400 MiB."""
    with MisbehavingServer(proxy_then_stall(emulator.url, "manifest.json", PARTIAL, 400 * 1024**2)) as server:
        yield server


def test_sigterm_mid_download_removes_the_partial_file(emulator, stalling, tmp_path):
    run_id = emulator.seeded_runs[NIGHTLY_JOB_ID][-1]
    process = start_collect(stalling.url, run_id, tmp_path)
    wait_for_partial_download(tmp_path, process)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=20)
    assert process.returncode == 128 + signal.SIGTERM
    assert "terminated" in stderr and "Traceback" not in stderr
    assert list(tmp_path.iterdir()) == []


def test_the_next_collect_sweeps_what_a_sigkill_left(emulator, stalling, tmp_path):
    run_id = emulator.seeded_runs[NIGHTLY_JOB_ID][-1]
    process = start_collect(stalling.url, run_id, tmp_path)
    partial = wait_for_partial_download(tmp_path, process)
    process.kill()
    process.communicate(timeout=20)
    assert partial.exists()  # SIGKILL runs no cleanup: this is what used to pile up

    again = start_collect(emulator.url, run_id, tmp_path)
    stdout, stderr = again.communicate(timeout=120)
    assert again.returncode == 0, stderr
    assert list(tmp_path.iterdir()) == []


def test_sweep_keeps_live_foreign_and_unrelated_folders(tmp_path):
    live = tmp_path / f"{PREFIX}{host_tag()}-{os.getpid()}-abc123"
    other_host = tmp_path / f"{PREFIX}0badc0de-{2**22 + 7}-abc123"
    unrelated = tmp_path / "databand-dbt-airflow-home-x1y2z3a4"
    legacy_young = tmp_path / "databand-dbt-a1b2c3d4"
    legacy_old = tmp_path / "databand-dbt-e5f6g7h8"
    dead = tmp_path / f"{PREFIX}{host_tag()}-{dead_pid()}-abc123"
    for folder in (live, other_host, unrelated, legacy_young, legacy_old, dead):
        folder.mkdir()
        (folder / "file").write_bytes(b"x")
    old = time.time() - 2 * 24 * 3600
    for path in (legacy_old / "file", legacy_old, unrelated / "file", unrelated):
        os.utime(path, (old, old))
    removed = sweep_stale(str(tmp_path))
    assert sorted(removed) == sorted([legacy_old, dead])
    assert all(p.exists() for p in (live, other_host, unrelated, legacy_young))


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid
