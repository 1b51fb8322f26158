"""Trigger a dbt Cloud job, wait for it and track the run (status, steps, every node) in the tracking store.

Needs one Airflow connection of type ``dbt_cloud`` named ``dbt_cloud_default``: Account ID in
Login, API token in Password, tenant (e.g. ``cloud.getdbt.com``) in Host. Pick another job with
``airflow dags test example_dbt_cloud_run_and_track -c '{"job_id": 12345}'``, then look at the
run with ``databand-dbt show <run id>``.
"""

from __future__ import annotations

import os
from datetime import datetime

# On Airflow 3 these also import from airflow.sdk; the compat module works on 2.11 too.
from airflow.providers.common.compat.sdk import DAG, Param, task

from airflow_provider_databand_dbt.operators import DbtCloudRunAndTrackOperator

CONN_ID = os.environ.get("DBT_CLOUD_CONN_ID", "dbt_cloud_default")
CHECK_INTERVAL = int(os.environ.get("DBT_CLOUD_CHECK_INTERVAL", "30"))
TIMEOUT = int(os.environ.get("DBT_CLOUD_TIMEOUT", "3600"))

with DAG(
    dag_id="example_dbt_cloud_run_and_track",
    schedule=None,
    start_date=datetime(2024, 1, 1),
    catchup=False,
    params={"job_id": Param(int(os.environ.get("DBT_CLOUD_JOB_ID", "101")), type="integer")},
    default_args={"retries": 0},
    tags=["dbt", "databand_dbt", "example"],
):
    run_and_track = DbtCloudRunAndTrackOperator(
        task_id="run_and_track",
        dbt_cloud_conn_id=CONN_ID,
        job_id="{{ params.job_id }}",
        check_interval=CHECK_INTERVAL,
        timeout=TIMEOUT,
    )

    @task
    def report(ti=None) -> None:
        """Use the run's summary downstream (on failure the operator already logged each failed node)."""
        summary = ti.xcom_pull(task_ids="run_and_track", key="tracking_summary") or {}
        print(f"dbt Cloud run {summary.get('run_id')}: {summary.get('status')}")
        print(f"nodes per status: {summary.get('node_counts')}")
        for unique_id in summary.get("failed_nodes", []):
            print(f"failed: {unique_id}")
        print(f"details: {summary.get('report_url')}")

    run_and_track >> report()
