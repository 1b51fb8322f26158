"""OpenLineage test fixtures: a clean OpenLineage environment, a client on the emulator, collected reports."""

from __future__ import annotations

import pytest

from airflow_provider_databand_dbt.testing.emulator import DEMO_ACCOUNT_ID, DEMO_TOKEN, NIGHTLY_JOB_ID

OPENLINEAGE_PREFIXES = ("OPENLINEAGE", "DATABAND_DBT_OPENLINEAGE")


@pytest.fixture()
def lineage_env(monkeypatch, tmp_path):
    """No OpenLineage configuration at all: env cleared, no openlineage.yml in the working directory or home."""
    import os

    for key in list(os.environ):
        if key.startswith(OPENLINEAGE_PREFIXES):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    yield monkeypatch
    # The client copies OPENLINEAGE_URL into OPENLINEAGE__TRANSPORT__... variables itself; drop them too.
    for key in list(os.environ):
        if key.startswith(OPENLINEAGE_PREFIXES):
            del os.environ[key]


@pytest.fixture()
def client(emulator):
    from airflow_provider_databand_dbt.dbt_cloud.client import DbtCloudClient
    from airflow_provider_databand_dbt.dbt_cloud.retry import RetryPolicy

    retry = RetryPolicy(max_attempts=2, backoff_base=0.01, backoff_max=0.02, jitter=False, max_total_seconds=5.0)
    with DbtCloudClient(DEMO_TOKEN, emulator.url, timeout=(2.0, 5.0), retry=retry) as dbt_cloud:
        yield dbt_cloud


@pytest.fixture()
def nightly_report(emulator, client):
    """The nightly_build run (error: a model fails, a test fails, two nodes skipped), collected with lineage."""
    from airflow_provider_databand_dbt.collector.collect import collect_run

    return collect_run(client, DEMO_ACCOUNT_ID, emulator.seeded_runs[NIGHTLY_JOB_ID][-1], lineage=True)
