"""Run and track several dbt Cloud jobs in parallel with dynamic task mapping (one task per job).

Each mapped task instance is recorded with its map index as the run's source. With the default
jobs one succeeds and one fails, so the DAG run fails while both runs are tracked.
"""

from __future__ import annotations

import os
from datetime import datetime

from airflow.providers.common.compat.sdk import DAG, Param, task

from airflow_provider_databand_dbt.operators import DbtCloudRunAndTrackOperator

CONN_ID = os.environ.get("DBT_CLOUD_CONN_ID", "dbt_cloud_default")
CHECK_INTERVAL = int(os.environ.get("DBT_CLOUD_CHECK_INTERVAL", "30"))
TIMEOUT = int(os.environ.get("DBT_CLOUD_TIMEOUT", "3600"))
DEFAULT_JOB_IDS = [int(job) for job in os.environ.get("DBT_CLOUD_JOB_IDS", "101,100").split(",")]

with DAG(
    dag_id="example_dbt_cloud_mapped_run_and_track",
    schedule=None,
    start_date=datetime(2024, 1, 1),
    catchup=False,
    params={"job_ids": Param(DEFAULT_JOB_IDS, type="array")},
    default_args={"retries": 0},
    tags=["dbt", "databand_dbt", "example"],
):

    @task
    def job_ids(params=None) -> list[int]:
        return [int(job_id) for job_id in params["job_ids"]]

    DbtCloudRunAndTrackOperator.partial(
        task_id="run_and_track",
        dbt_cloud_conn_id=CONN_ID,
        check_interval=CHECK_INTERVAL,
        timeout=TIMEOUT,
    ).expand(job_id=job_ids())
