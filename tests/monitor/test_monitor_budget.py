"""The monitor records its syncers' max_requests_per_minute as the account's shared budget, and draws from it."""

from __future__ import annotations

import time
from urllib.parse import urlsplit

from monitor_helpers import run_monitor, write_config

from airflow_provider_databand_dbt.testing.emulator import DEMO_ACCOUNT_ID
from airflow_provider_databand_dbt.tracking.store import TrackingStore


def test_monitor_start_records_the_budget_and_waits_out_a_block(emulator, tracking_url, tmp_path):
    host = urlsplit(emulator.url).netloc
    with TrackingStore(tracking_url) as store:
        store.set_request_budget(host, DEMO_ACCOUNT_ID, 99, "an older monitor")
        store.block_account(host, DEMO_ACCOUNT_ID, 6.0, "another process")  # e.g. its 429
    config = write_config(
        tmp_path / "m.cfg", emulator.url, tracking_url, syncers={"main": {"max_requests_per_minute": 1234}}
    )
    emulator.reset_request_log()
    started = time.monotonic()
    result = run_monitor(config, "--number-of-iterations", "1")
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stderr[-3000:]

    with TrackingStore(tracking_url) as store:
        (budget,) = store.request_budgets(host, DEMO_ACCOUNT_ID)
    assert budget.requests_per_minute == 1234  # last writer wins
    assert budget.set_by.startswith("monitor syncer main@")
    assert elapsed >= 5.0, "the monitor did not wait for the account's block"
    assert emulator.requests, "the monitor polled once the block was over"
