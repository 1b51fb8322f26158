"""Sink test fixtures: a dbt Cloud client on the emulator with quick retries."""

from __future__ import annotations

import pytest


@pytest.fixture()
def client(emulator):
    from airflow_provider_databand_dbt.dbt_cloud.client import DbtCloudClient
    from airflow_provider_databand_dbt.dbt_cloud.retry import RetryPolicy
    from airflow_provider_databand_dbt.testing.emulator import DEMO_TOKEN

    retry = RetryPolicy(max_attempts=2, backoff_base=0.01, backoff_max=0.02, jitter=False, max_total_seconds=5.0)
    with DbtCloudClient(DEMO_TOKEN, emulator.url, timeout=(2.0, 5.0), retry=retry) as dbt_cloud:
        yield dbt_cloud
