"""Fill a tracking store the way production does: the dbt Cloud emulator over HTTP + the real collector.

The history it builds is what the pages must show: job 100 "Nightly build" that used to pass and now
fails (a model errors, its downstream model is skipped, a test fails, a test warns), job 101
"Hourly models" that passes, a run still in progress, and a run whose run_results.json was missing.
Runs are tracked by Airflow tasks and by the monitor, some by both.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from airflow_provider_databand_dbt.dbt_cloud.client import DbtCloudClient
from airflow_provider_databand_dbt.model.source import TrackingSource
from airflow_provider_databand_dbt.sinks.service import TrackingService
from airflow_provider_databand_dbt.testing.emulator import (
    DEMO_ACCOUNT_ID,
    DEMO_TOKEN,
    HOURLY_JOB_ID,
    NIGHTLY_JOB_ID,
    DbtCloudEmulator,
    Fault,
)

FAILING_TEST = "assert_revenue_by_payment_method_is_positive"
FAILING_TEST_ID = "test.tiny_shop.assert_revenue_by_payment_method_is_positive"
ERROR_MODEL_ID = "model.tiny_shop.customer_ltv_forecast"
SKIPPED_MODEL = "marketing_segments"
SKIPPED_MODEL_ID = "model.tiny_shop.marketing_segments"
HEALTHY_MODEL_ID = "model.tiny_shop.dim_customers"
DAY = 86400.0


@dataclass
class Filled:
    """Ids of the runs the tests look at."""

    host: str
    nightly_runs: list[int] = field(default_factory=list)
    hourly_runs: list[int] = field(default_factory=list)
    latest_failed_run: int = 0
    running_run: int = 0
    missing_artifacts_run: int = 0


def airflow_source(dag_id: str = "dbt_nightly", try_number: int = 1) -> TrackingSource:
    return TrackingSource(
        kind="airflow",
        name=f"{dag_id}.run_nightly",
        dag_id=dag_id,
        task_id="run_nightly",
        airflow_run_id="scheduled__2026-11-25T02:00:00+00:00",
        try_number=try_number,
        map_index=-1,
    )


def monitor_source() -> TrackingSource:
    return TrackingSource(kind="monitor", name="prod-account")


def fill_store(store, emulator: DbtCloudEmulator, *, extra_nightly: int = 4) -> Filled:
    """Collect a realistic history from ``emulator`` (seeded) into ``store``; returns the interesting run ids."""
    now = time.time()
    # Older nightly runs that passed (the healthy scenario), before the seeded failing ones.
    # Lower ids than the seeded runs: dbt Cloud run ids grow with time.
    first_seeded = min(min(ids) for ids in emulator.seeded_runs.values())
    older = [
        emulator.add_run(
            DEMO_ACCOUNT_ID,
            NIGHTLY_JOB_ID,
            run_id=first_seeded - extra_nightly + i,
            status="success",
            scenario="healthy_run",
            created_at=now - (4 + extra_nightly - i) * DAY,
            cause="Triggered by schedule",
        )
        for i in range(extra_nightly)
    ]
    filled = Filled(host="")
    with DbtCloudClient(DEMO_TOKEN, api_url=emulator.url) as client:
        filled.host = client.host
        nightly = sorted(older + emulator.seeded_runs[NIGHTLY_JOB_ID])
        hourly = sorted(emulator.seeded_runs[HOURLY_JOB_ID])
        for i, run_id in enumerate(nightly):
            TrackingService(store, []).track(
                client, DEMO_ACCOUNT_ID, run_id, source=airflow_source() if i % 2 == 0 else monitor_source()
            )
        # The newest nightly run was seen by both trackers (one record, two sources).
        TrackingService(store, []).track(client, DEMO_ACCOUNT_ID, nightly[-1], source=monitor_source())
        for run_id in hourly:
            TrackingService(store, []).track(client, DEMO_ACCOUNT_ID, run_id, source=monitor_source())

        emulator.set_lifecycle(0.0, 3600.0)
        running = emulator.add_run(DEMO_ACCOUNT_ID, HOURLY_JOB_ID, status="running")
        TrackingService(store, []).track(client, DEMO_ACCOUNT_ID, running, source=monitor_source())

        missing = emulator.add_run(DEMO_ACCOUNT_ID, HOURLY_JOB_ID, status="success")
        emulator.inject_fault(Fault(path_pattern=rf"/runs/{missing}/artifacts/run_results\.json", status=404))
        TrackingService(store, []).track(client, DEMO_ACCOUNT_ID, missing, source=monitor_source())
        emulator.clear_faults()

    filled.nightly_runs = nightly
    filled.hourly_runs = hourly + [missing]
    filled.latest_failed_run = nightly[-1]
    filled.running_run = running
    filled.missing_artifacts_run = missing
    return filled
