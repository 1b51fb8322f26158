"""Trigger with the dbt Cloud provider's own operator, then wait for and track the run with our sensor.

Useful when the job is triggered elsewhere (another DAG, a CI pipeline): the sensor only needs a run
id. ``reschedule`` mode frees the worker slot between checks.
"""

from __future__ import annotations

import os
from datetime import datetime

from airflow.providers.common.compat.sdk import DAG, Param
from airflow.providers.dbt.cloud.operators.dbt import DbtCloudRunJobOperator

from airflow_provider_databand_dbt.sensors import DbtCloudRunAndTrackSensor

CONN_ID = os.environ.get("DBT_CLOUD_CONN_ID", "dbt_cloud_default")
CHECK_INTERVAL = int(os.environ.get("DBT_CLOUD_CHECK_INTERVAL", "30"))
TIMEOUT = int(os.environ.get("DBT_CLOUD_TIMEOUT", "3600"))
# In reschedule mode, pokes closer than ~15 s can be failed by a scheduler race (apache/airflow#71172,
# see docs/airflow.md): keep them at least that far apart even when CHECK_INTERVAL is shorter.
RESCHEDULE_POKE_SECONDS = max(CHECK_INTERVAL, 15)

with DAG(
    dag_id="example_dbt_cloud_trigger_then_sense",
    schedule=None,
    start_date=datetime(2024, 1, 1),
    catchup=False,
    params={"job_id": Param(int(os.environ.get("DBT_CLOUD_JOB_ID", "101")), type="integer")},
    default_args={"retries": 0},
    tags=["dbt", "databand_dbt", "example"],
):
    trigger = DbtCloudRunJobOperator(
        task_id="trigger_job",
        dbt_cloud_conn_id=CONN_ID,
        job_id="{{ params.job_id }}",
        wait_for_termination=False,
    )
    DbtCloudRunAndTrackSensor(
        task_id="wait_and_track",
        dbt_cloud_conn_id=CONN_ID,
        run_id=trigger.output,  # the provider's operator returns the new run id
        mode="reschedule",
        poke_interval=RESCHEDULE_POKE_SECONDS,
        timeout=TIMEOUT,
    )
