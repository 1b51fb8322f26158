"""The same run-and-track, deferrable: the triggerer polls dbt Cloud, the worker slot is free meanwhile.

Collection happens on the worker when the task resumes, never in the triggerer. Needs a running
``airflow triggerer`` (``airflow dags test`` runs the trigger in-process).
"""

from __future__ import annotations

import os
from datetime import datetime

from airflow.providers.common.compat.sdk import DAG, Param

from airflow_provider_databand_dbt.operators import DbtCloudRunAndTrackOperator

CONN_ID = os.environ.get("DBT_CLOUD_CONN_ID", "dbt_cloud_default")
CHECK_INTERVAL = int(os.environ.get("DBT_CLOUD_CHECK_INTERVAL", "30"))
TIMEOUT = int(os.environ.get("DBT_CLOUD_TIMEOUT", "3600"))

with DAG(
    dag_id="example_dbt_cloud_run_and_track_deferrable",
    schedule=None,
    start_date=datetime(2024, 1, 1),
    catchup=False,
    params={"job_id": Param(int(os.environ.get("DBT_CLOUD_JOB_ID", "101")), type="integer")},
    default_args={"retries": 0},
    tags=["dbt", "databand_dbt", "example"],
):
    DbtCloudRunAndTrackOperator(
        task_id="run_and_track",
        dbt_cloud_conn_id=CONN_ID,
        job_id="{{ params.job_id }}",
        deferrable=True,
        check_interval=CHECK_INTERVAL,
        timeout=TIMEOUT,
    )
