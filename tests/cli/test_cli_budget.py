"""``databand-dbt collect`` draws from the store's request budget: it waits out a block, and records its 429s."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from urllib.parse import urlsplit

from airflow_provider_databand_dbt.testing.emulator import DEMO_ACCOUNT_ID, DEMO_TOKEN, NIGHTLY_JOB_ID, Fault
from airflow_provider_databand_dbt.tracking.store import TrackingStore


def _collect(emulator, tracking_url: str) -> subprocess.CompletedProcess:
    run_id = emulator.seeded_runs[NIGHTLY_JOB_ID][-1]
    command = [sys.executable, "-m", "airflow_provider_databand_dbt.cli", "collect"]
    command += ["--account-id", str(DEMO_ACCOUNT_ID), "--run-id", str(run_id), "--api-url", emulator.url]
    command += ["--tracking-url", tracking_url]
    env = {**os.environ, "DBT_CLOUD_API_TOKEN": DEMO_TOKEN}
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)


def test_collect_waits_for_a_block_another_process_recorded(emulator, tracking_url):
    host = urlsplit(emulator.url).netloc
    with TrackingStore(tracking_url) as store:
        store.block_account(host, DEMO_ACCOUNT_ID, 5.0, "the monitor")
    started = time.monotonic()
    result = _collect(emulator, tracking_url)
    assert result.returncode == 0, result.stderr[-3000:]
    assert time.monotonic() - started >= 5.0


def test_collect_records_its_429_for_every_process(emulator, tracking_url):
    emulator.inject_fault(Fault(r"/runs/\d+/$", status=429, retry_after=1, times=1))
    result = _collect(emulator, tracking_url)
    assert result.returncode == 0, result.stderr[-3000:]
    with TrackingStore(tracking_url) as store:
        (row,) = store.request_budgets(urlsplit(emulator.url).netloc, DEMO_ACCOUNT_ID)
    assert row.blocked_by.startswith("cli@")
