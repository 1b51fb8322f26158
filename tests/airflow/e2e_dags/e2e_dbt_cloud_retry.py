"""A task that fails on its first try and succeeds on its retry, each try tracking its own run.

Try 1 runs job 100 (the emulator's failing "Nightly build"), try 2 job 101 ("Hourly models"):
the store must keep each run with the try number that tracked it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.providers.common.compat.sdk import DAG

from airflow_provider_databand_dbt.operators import DbtCloudRunAndTrackOperator

with DAG(dag_id="e2e_dbt_cloud_retry", schedule=None, start_date=datetime(2024, 1, 1), catchup=False):
    DbtCloudRunAndTrackOperator(
        task_id="run_and_track",
        job_id="{{ 100 if ti.try_number == 1 else 101 }}",
        check_interval=1,
        timeout=120,
        retries=1,
        retry_delay=timedelta(seconds=1),
    )
