"""Bounded memory: a monitor's peak RSS does not grow with the number of big runs it catches up.

At most ``collect_concurrency`` runs are collected or waiting to be stored at once (monitor/prefetch.py),
so catching up three times as many big runs as that must peak about as high as catching up just that many.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from airflow_provider_databand_dbt.testing.emulator import DEMO_ACCOUNT_ID, HOURLY_JOB_ID
from airflow_provider_databand_dbt.tracking.store import TrackingStore
from monitor_helpers import monitor_command, monitor_env, run_monitor, write_config

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
MANIFEST_MB = 25
CONCURRENCY = 2


@pytest.fixture(scope="module")
def big_dir():
    sys.path.insert(0, str(BENCHMARKS))
    try:
        from bench_collect import generate
    finally:
        sys.path.remove(str(BENCHMARKS))
    # The shape of the Hourly models job (101); cached in benchmarks/.data while the fixture manifest is unchanged.
    return generate(MANIFEST_MB, "3step")


def peak_rss_mb_catching_up(emulator, tmp_path: Path, big_dir: Path, runs: int) -> float:
    """Start a cursor, add ``runs`` big runs, run one monitor iteration; its peak RSS in MB (``wait4``)."""
    tmp_path.mkdir(exist_ok=True)
    url = f"sqlite:///{tmp_path / f'tracking-{runs}.db'}"
    config = write_config(tmp_path / f"monitor-{runs}.cfg", emulator.url, url, number_of_iterations=1,
                          syncers={"main": {"collect_concurrency": CONCURRENCY}})
    assert run_monitor(config).returncode == 0
    emulator.add_runs(DEMO_ACCOUNT_ID, HOURLY_JOB_ID, runs, status="success", artifacts_dir=str(big_dir))
    log = tmp_path / f"monitor-{runs}.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(monitor_command(config), stdout=out, stderr=subprocess.STDOUT, env=monitor_env())
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    assert proc.returncode == 0, log.read_text()
    with TrackingStore(url) as store:
        assert store.count_runs() == runs, log.read_text()
    return usage.ru_maxrss / 1024


def test_peak_rss_does_not_grow_with_the_number_of_big_runs(emulator, tmp_path, big_dir):
    # The peak of a short catch-up varies by ~15 MB from one process to the next (when the collector's
    # garbage is freed): the higher of two is the fair baseline.
    few = max(peak_rss_mb_catching_up(emulator, tmp_path / name, big_dir, CONCURRENCY) for name in ("a", "b"))
    many = peak_rss_mb_catching_up(emulator, tmp_path, big_dir, 3 * CONCURRENCY)
    print(f"peak RSS: {few:.0f} MB for {CONCURRENCY} runs, {many:.0f} MB for {3 * CONCURRENCY} runs")
    # Measured: 120 MB vs 117 MB; with the former prefetch (2 x concurrency results held) 116 MB vs 145 MB.
    assert many < few * 1.12, f"{many:.0f} MB for {3 * CONCURRENCY} runs vs {few:.0f} MB for {CONCURRENCY}"
