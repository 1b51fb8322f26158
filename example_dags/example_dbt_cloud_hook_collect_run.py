"""Track runs from your own Python code: the hook's ``collect_run`` inside a ``@task``.

Here: find the latest finished run of a job and collect it. The task is recorded as the run's
source; the returned dict becomes the task's XCom.
"""

from __future__ import annotations

import os
from datetime import datetime

from airflow.providers.common.compat.sdk import DAG, Param, task

from airflow_provider_databand_dbt.hooks import DbtCloudTrackingHook

CONN_ID = os.environ.get("DBT_CLOUD_CONN_ID", "dbt_cloud_default")
FINISHED_STATUSES = (10, 20, 30)  # success, error, cancelled

with DAG(
    dag_id="example_dbt_cloud_hook_collect_run",
    schedule=None,
    start_date=datetime(2024, 1, 1),
    catchup=False,
    params={"job_id": Param(int(os.environ.get("DBT_CLOUD_JOB_ID", "101")), type="integer")},
    default_args={"retries": 0},
    tags=["dbt", "databand_dbt", "example"],
):

    @task
    def latest_finished_run(params=None) -> int:
        hook = DbtCloudTrackingHook(CONN_ID)
        runs = hook.get_job_runs(
            payload={"job_definition_id": params["job_id"], "order_by": "-id", "limit": 20}
        ).json()["data"]
        finished = [run["id"] for run in runs if run["status"] in FINISHED_STATUSES]
        if not finished:
            raise ValueError(f"job {params['job_id']} has no finished run yet")
        return finished[0]

    @task
    def collect(dbt_run_id: int) -> dict:
        report = DbtCloudTrackingHook(CONN_ID).collect_run(dbt_run_id)
        for node in report.failed_nodes():
            print(f"{node.unique_id}: {node.status}: {node.message}")
        return {"run_id": report.run_id, "status": report.status, "node_counts": report.summary}

    collect(latest_finished_run())
