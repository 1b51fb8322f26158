"""Fire and forget, then wait elsewhere: the run is tracked when triggered and again when it ends.

The operator with ``wait_for_termination=False`` tracks the run as queued and returns; the
deferrable sensor waits and tracks it finished. The store keeps one run with two sources.
"""

from __future__ import annotations

import os
from datetime import datetime

from airflow.providers.common.compat.sdk import DAG, Param

from airflow_provider_databand_dbt.operators import DbtCloudRunAndTrackOperator
from airflow_provider_databand_dbt.sensors import DbtCloudRunAndTrackSensor

CONN_ID = os.environ.get("DBT_CLOUD_CONN_ID", "dbt_cloud_default")
CHECK_INTERVAL = int(os.environ.get("DBT_CLOUD_CHECK_INTERVAL", "30"))
TIMEOUT = int(os.environ.get("DBT_CLOUD_TIMEOUT", "3600"))

with DAG(
    dag_id="example_dbt_cloud_track_then_sense",
    schedule=None,
    start_date=datetime(2024, 1, 1),
    catchup=False,
    params={"job_id": Param(int(os.environ.get("DBT_CLOUD_JOB_ID", "101")), type="integer")},
    default_args={"retries": 0},
    tags=["dbt", "databand_dbt", "example"],
):
    trigger_and_track = DbtCloudRunAndTrackOperator(
        task_id="trigger_and_track",
        dbt_cloud_conn_id=CONN_ID,
        job_id="{{ params.job_id }}",
        wait_for_termination=False,
    )
    DbtCloudRunAndTrackSensor(
        task_id="wait_and_track",
        dbt_cloud_conn_id=CONN_ID,
        run_id=trigger_and_track.output,
        deferrable=True,
        poke_interval=CHECK_INTERVAL,
        timeout=TIMEOUT,
    )
