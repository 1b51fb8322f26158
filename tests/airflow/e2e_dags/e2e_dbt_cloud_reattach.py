"""Tasks the reattach end-to-end test SIGKILLs right after their trigger POST (tests/airflow/test_e2e_reattach.py).

Each task writes its process id to ``$E2E_REATTACH_PID_DIR/<task>.<map index>.<try>.pid`` when it
starts, so the test can kill exactly that try. Job ids come from the environment (one emulator job
per task instance, so the emulator's request log counts each one's trigger POSTs).
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from pathlib import Path

from airflow.providers.common.compat.sdk import DAG

from airflow_provider_databand_dbt.operators import DbtCloudRunAndTrackOperator


def _jobs(name: str) -> list[int]:
    return [int(job) for job in os.environ.get(name, "").split(",") if job]


def write_pid(context) -> None:
    ti = context["ti"]
    pid_dir = Path(os.environ["E2E_REATTACH_PID_DIR"])
    (pid_dir / f"{ti.task_id}.{ti.map_index}.{ti.try_number}.pid").write_text(str(os.getpid()))


COMMON = {
    "check_interval": 1,
    "timeout": 120,
    "retries": 1,
    "retry_delay": timedelta(seconds=1),
    "on_execute_callback": write_pid,
}

with DAG(
    dag_id="e2e_dbt_cloud_reattach", schedule=None, start_date=datetime(2024, 1, 1), catchup=False, max_active_tasks=16
):
    DbtCloudRunAndTrackOperator.partial(task_id="sync", **COMMON).expand(job_id=_jobs("E2E_REATTACH_SYNC_JOBS"))
    for job_id in _jobs("E2E_REATTACH_DEFERRABLE_JOB"):
        DbtCloudRunAndTrackOperator(task_id="deferrable", job_id=job_id, deferrable=True, **COMMON)
    for job_id in _jobs("E2E_REATTACH_LOST_RESPONSE_JOB"):
        DbtCloudRunAndTrackOperator(task_id="lost_response", job_id=job_id, **COMMON)
