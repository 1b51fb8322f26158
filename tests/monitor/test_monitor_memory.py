"""Bounded memory: a monitor's peak RSS does not grow with the number of big runs it catches up.

At most ``collect_concurrency`` runs are collected or waiting to be stored at once (monitor/prefetch.py),
so catching up four times as many big runs must peak about as high as catching up a few. Measured one run at
a time, so the comparison does not hang on how two runs happen to overlap.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from monitor_helpers import monitor_command, monitor_env, run_monitor, write_config

from airflow_provider_databand_dbt.testing.emulator import DEMO_ACCOUNT_ID, HOURLY_JOB_ID
from airflow_provider_databand_dbt.tracking.store import TrackingStore

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
MANIFEST_MB = 50  # big enough that one more run held in memory stands out from the noise
# One run at a time: with two, how far their peaks overlap is chance, and the more runs the likelier
# the worst overlap, so a few runs and many would not compare. The bound itself does not depend on it.
CONCURRENCY = 1
# Caches and allocator arenas settle within the first few runs (measured: 2 runs 151 MB, then 6, 12
# and 24 runs 170-171 MB), so the baseline is a catch-up long enough to reach that steady state.
FEW = 6


@pytest.fixture(scope="module")
def big_dir():
    sys.path.insert(0, str(BENCHMARKS))
    try:
        from bench_collect import generate
    finally:
        sys.path.remove(str(BENCHMARKS))
    return generate(
        MANIFEST_MB, "3step"
    )  # the Hourly job's three steps; cached in benchmarks/.data while the fixture manifest is unchanged


def peak_rss_mb_catching_up(emulator, tmp_path: Path, big_dir: Path, runs: int) -> float:
    """Start a cursor, add ``runs`` big runs, run one monitor iteration; its peak RSS in MB (``wait4``)."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{tmp_path / f'tracking-{runs}.db'}"
    config = write_config(
        tmp_path / f"monitor-{runs}.cfg",
        emulator.url,
        url,
        number_of_iterations=1,
        syncers={"main": {"collect_concurrency": CONCURRENCY}},
    )
    assert run_monitor(config).returncode == 0
    emulator.add_runs(DEMO_ACCOUNT_ID, HOURLY_JOB_ID, runs, status="success", artifacts_dir=str(big_dir))
    log = tmp_path / f"monitor-{runs}.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(monitor_command(config), stdout=out, stderr=subprocess.STDOUT, env=monitor_env())
        peak_kb = 0
        while proc.poll() is None:  # VmHWM only grows: its last reading is the peak (ru_maxrss from wait4
            peak_kb = _vm_hwm_kb(proc.pid) or peak_kb  # would include this test process's RSS, inherited at exec)
            time.sleep(0.05)
    assert proc.returncode == 0, log.read_text()
    with TrackingStore(url) as store:
        assert store.count_runs() == runs, log.read_text()
    return peak_kb / 1024


def _vm_hwm_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as status:
            return next((int(line.split()[1]) for line in status if line.startswith("VmHWM:")), 0)
    except OSError:  # exited meanwhile
        return 0


def test_peak_rss_does_not_grow_with_the_number_of_big_runs(emulator, tmp_path, big_dir):
    few = peak_rss_mb_catching_up(emulator, tmp_path / "few", big_dir, FEW)
    many = peak_rss_mb_catching_up(emulator, tmp_path / "many", big_dir, 4 * FEW)
    print(f"peak RSS: {few:.0f} MB for {FEW} runs, {many:.0f} MB for {4 * FEW} runs")
    # Measured with 50 MB manifests at collect_concurrency 1 (VmHWM): 6 runs 170 MB, 24 runs 171 MB.
    assert many < few * 1.15, f"{many:.0f} MB for {4 * FEW} runs vs {few:.0f} MB for {FEW}"
