"""The request budget of an account, shared through the tracking store by real processes (SQLite and PostgreSQL).

Each worker is a separate Python process that builds its client as every tracker does
(``tracking(..., client=client)``) and GETs the account as fast as it may; the emulator counts what arrives.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa

from airflow_provider_databand_dbt.dbt_cloud.client import DbtCloudClient
from airflow_provider_databand_dbt.sinks.service import tracking
from airflow_provider_databand_dbt.testing.emulator import DEMO_ACCOUNT_ID, DEMO_TOKEN, Fault
from airflow_provider_databand_dbt.tracking import request_budget
from airflow_provider_databand_dbt.tracking.store import TrackingStore

WORKER = Path(__file__).with_name("budget_worker.py")
ROOT = Path(__file__).resolve().parents[2]
SECONDS = 6.0


def _host(emulator) -> str:
    return urlsplit(emulator.url).netloc


def _workers(emulator, tracking_url: str, count: int = 2) -> tuple[list[subprocess.Popen], float]:
    env = {**os.environ, "DBT_CLOUD_API_TOKEN": DEMO_TOKEN, "PYTHONPATH": str(ROOT)}
    start_at = time.time() + 6.0  # both import and open the store first, then start together
    procs = [
        subprocess.Popen(
            [sys.executable, str(WORKER), emulator.url, tracking_url, str(SECONDS), str(start_at)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(count)
    ]
    return procs, start_at


def _results(procs: list[subprocess.Popen]) -> list[dict]:
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err[-3000:]
        results.append(json.loads(out.strip().splitlines()[-1]))
    return results


def test_two_processes_stay_within_one_budget(emulator, tracking_url):
    per_minute = 300
    with TrackingStore(tracking_url) as store:
        store.set_request_budget(_host(emulator), DEMO_ACCOUNT_ID, per_minute, "test")
    results = _results(_workers(emulator, tracking_url)[0])

    sent = emulator.rate_limit_counts["accounts"][str(DEMO_ACCOUNT_ID)]["requests"]
    # A full bucket, then the refill over the run (plus one batch spent late): never two budgets' worth.
    ceiling = request_budget.capacity(per_minute) + request_budget.refill_rate(per_minute) * (SECONDS + 1) + 2
    assert sent == sum(r["requests"] for r in results)
    assert sent <= ceiling, (sent, ceiling)
    assert sent >= request_budget.refill_rate(per_minute) * SECONDS * 0.6, "the budget was not used"
    assert all(r["requests"] > 0 for r in results), "one process starved"


def test_store_is_asked_once_per_batch_not_per_request(emulator, tracking_url):
    with TrackingStore(tracking_url) as store:
        store.set_request_budget(_host(emulator), DEMO_ACCOUNT_ID, 600, "test")
    results = _results(_workers(emulator, tracking_url)[0])
    for result in results:
        assert result["requests"] >= 10
        assert result["store_transactions"] / result["requests"] <= 0.4, result


def _longest_pause(attempts: list[list]) -> float:
    times = sorted(t for t, _ in attempts)
    return max((b - a for a, b in zip(times, times[1:])), default=0.0)


def test_a_429_seen_by_one_process_blocks_the_other(emulator, tracking_url):
    procs, start_at = _workers(emulator, tracking_url)
    time.sleep(max(0.0, start_at + 2.0 - time.time()))
    emulator.inject_fault(Fault(r"^/api/v2/accounts/1/$", status=429, retry_after=3, times=1))
    results = _results(procs)

    hit = [r for r in results if any(outcome == "429" for _, outcome in r["attempts"])]
    assert len(hit) == 1
    # No budget row: the 429 alone created the block, and both processes waited it out (the other one
    # learns of it from the store within one batch, at most a second).
    for result in results:
        assert _longest_pause(result["attempts"]) >= 1.8, result["attempts"][:5]
    with TrackingStore(tracking_url) as store:
        (row,) = store.request_budgets(_host(emulator), DEMO_ACCOUNT_ID)
    assert row.requests_per_minute is None
    assert row.blocked_by.startswith("budget worker@")


def test_store_unreachable_falls_back_to_the_local_limit(emulator, tracking_url, caplog):
    store = TrackingStore(tracking_url)
    store.set_request_budget(_host(emulator), DEMO_ACCOUNT_ID, 60_000, "test")
    client = DbtCloudClient(DEMO_TOKEN, emulator.url, max_requests_per_minute=120)  # 20 at once, then 2/s
    caplog.set_level(logging.WARNING, "airflow_provider_databand_dbt")
    try:
        with client, tracking(store, client=client):
            client.get_account(DEMO_ACCOUNT_ID)  # drawn from the shared budget
            with store.engine.begin() as conn:
                conn.execute(sa.text("DROP TABLE dbt_tracking_request_budget"))
            started = time.monotonic()
            for _ in range(25):
                client.get_account(DEMO_ACCOUNT_ID)
            elapsed = time.monotonic() - started
    finally:
        store.close()
    warnings = [r for r in caplog.records if "request budget" in r.getMessage()]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    assert "local request limit" in warnings[0].getMessage()
    assert elapsed >= 2.0  # the local bucket: 20 at once, then 2 per second


def test_the_client_gives_its_local_limit_back_after_tracking(emulator, store):
    client = DbtCloudClient(DEMO_TOKEN, emulator.url)
    with client, tracking(store, client=client):
        assert client.request_budget is not None
        client.get_account(DEMO_ACCOUNT_ID)
    assert client.request_budget is None


def test_no_store_keeps_the_local_limit(emulator):
    client = DbtCloudClient(DEMO_TOKEN, emulator.url, max_requests_per_minute=60)
    with client, tracking(False, client=client):
        assert client.request_budget is None
        assert client.rate_limiter is not None


def test_a_block_longer_than_the_deadline_fails_at_once(emulator, store):
    from airflow_provider_databand_dbt import collect_data_from_dbt_cloud
    from airflow_provider_databand_dbt.dbt_cloud.errors import DbtCloudRateLimitError
    from airflow_provider_databand_dbt.testing.emulator import NIGHTLY_JOB_ID

    store.block_account(_host(emulator), DEMO_ACCOUNT_ID, 120, "another process")
    started = time.monotonic()
    with pytest.raises(DbtCloudRateLimitError) as caught:
        collect_data_from_dbt_cloud(
            DEMO_ACCOUNT_ID,
            DEMO_TOKEN,
            emulator.seeded_runs[NIGHTLY_JOB_ID][-1],
            emulator.url,
            store=store,
            collect_deadline=5,
        )
    assert time.monotonic() - started < 3
    assert "was not sent" in str(caught.value) and "blocked after a 429" in str(caught.value)
    assert 110 < caught.value.retry_after <= 120
    assert not emulator.requests
