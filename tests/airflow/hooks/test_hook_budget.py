"""The hook's own requests (the provider's polling and triggering) draw from the store's request budget."""

from __future__ import annotations

import time
from urllib.parse import urlsplit

import pytest

pytest.importorskip("airflow")

from airflow_provider_databand_dbt.testing.emulator import DEMO_ACCOUNT_ID, NIGHTLY_JOB_ID, Fault  # noqa: E402


@pytest.fixture()
def hook(dbt_cloud_conn):
    from airflow_provider_databand_dbt.hooks import DbtCloudTrackingHook

    return DbtCloudTrackingHook(retry_delay=0.05)


def test_polling_waits_out_a_block_recorded_by_another_process(hook, dbt_cloud_conn, default_store):
    default_store.block_account(urlsplit(dbt_cloud_conn.url).netloc, DEMO_ACCOUNT_ID, 3.0, "the monitor")
    started = time.monotonic()
    hook.get_job_run_status(dbt_cloud_conn.seeded_runs[NIGHTLY_JOB_ID][-1], account_id=DEMO_ACCOUNT_ID)
    assert time.monotonic() - started >= 2.5


def test_a_429_of_the_hook_blocks_the_account_in_the_store(hook, dbt_cloud_conn, default_store):
    dbt_cloud_conn.inject_fault(Fault(r"/runs/\d+/$", status=429, retry_after=1, times=1))
    hook.get_job_run_status(dbt_cloud_conn.seeded_runs[NIGHTLY_JOB_ID][-1], account_id=DEMO_ACCOUNT_ID)
    (row,) = default_store.request_budgets(urlsplit(dbt_cloud_conn.url).netloc, DEMO_ACCOUNT_ID)
    assert row.blocked_by.startswith("airflow hook@")


def test_async_polling_waits_out_a_block_too(hook, dbt_cloud_conn, default_store):
    import asyncio

    default_store.block_account(urlsplit(dbt_cloud_conn.url).netloc, DEMO_ACCOUNT_ID, 3.0, "the monitor")
    started = time.monotonic()
    assert asyncio.run(hook.get_job_status(dbt_cloud_conn.seeded_runs[NIGHTLY_JOB_ID][-1])) == 20
    assert time.monotonic() - started >= 2.5


def test_async_429_blocks_the_account_in_the_store(hook, dbt_cloud_conn, default_store):
    import asyncio

    dbt_cloud_conn.inject_fault(Fault(r"/runs/\d+/$", status=429, retry_after=1, times=1))
    assert asyncio.run(hook.get_job_status(dbt_cloud_conn.seeded_runs[NIGHTLY_JOB_ID][-1])) == 20
    (row,) = default_store.request_budgets(urlsplit(dbt_cloud_conn.url).netloc, DEMO_ACCOUNT_ID)
    assert row.blocked_by.startswith("airflow hook@")


def test_hooks_of_one_process_share_one_store_and_budget(dbt_cloud_conn, default_store):
    """A triggerer runs many hooks: they must share one store connection pool, not open one each and leak it."""
    from airflow_provider_databand_dbt.hooks import DbtCloudTrackingHook

    run_id = dbt_cloud_conn.seeded_runs[NIGHTLY_JOB_ID][-1]
    budgets = []
    for _ in range(5):
        hook = DbtCloudTrackingHook(retry_delay=0.05)
        hook.get_job_run_status(run_id, account_id=DEMO_ACCOUNT_ID)
        budgets.append(hook.request_budget.budget)
        hook.request_budget.close()
    assert budgets[0] is not None
    assert all(budget is budgets[0] for budget in budgets)
