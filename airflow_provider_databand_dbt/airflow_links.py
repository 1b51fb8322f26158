"""Links into Airflow's UI for a task instance, and where Airflow lives (for processes without Airflow).

Airflow 3 addresses: ``/dags/<dag>/runs/<run>/tasks/<task>`` (``/mapped/<i>`` when mapped), or the
task's page ``/dags/<dag>/tasks/<task>`` when the DAG run is not known. No Airflow import.
"""

from __future__ import annotations

import os
from typing import Optional, Protocol
from urllib.parse import quote

ENV_AIRFLOW_BASE_URL = "DATABAND_DBT_AIRFLOW_BASE_URL"
ENV_AIRFLOW_CONF_BASE_URL = "AIRFLOW__DATABAND_DBT__AIRFLOW_BASE_URL"


class TaskInstanceRef(Protocol):
    """What a link needs: a tracking source row or an ``Attribution`` both have these."""

    dag_id: Optional[str]
    task_id: Optional[str]
    airflow_run_id: Optional[str]
    map_index: Optional[int]


def airflow_base_url_from_env(explicit: Optional[str] = None) -> Optional[str]:
    """Airflow's base URL for links: ``explicit``, env ``DATABAND_DBT_AIRFLOW_BASE_URL``, then env
    ``AIRFLOW__DATABAND_DBT__AIRFLOW_BASE_URL``; None (no links) when none is set."""
    for value in (explicit, os.environ.get(ENV_AIRFLOW_BASE_URL), os.environ.get(ENV_AIRFLOW_CONF_BASE_URL)):
        if value and value.strip():
            return value.strip().rstrip("/")
    return None


def airflow_task_url(base: Optional[str], task: TaskInstanceRef) -> Optional[str]:
    """Link to the Airflow 3 task instance, or None when Airflow's address is unknown.

    :param base: Airflow's base URL; ``""`` means the same server as the page showing the link.
    """
    if base is None or not task.dag_id or not task.task_id:
        return None
    parts = [base.rstrip("/"), "dags", quote(task.dag_id, safe="")]
    if task.airflow_run_id:
        parts += ["runs", quote(task.airflow_run_id, safe=""), "tasks", quote(task.task_id, safe="")]
        if task.map_index is not None and task.map_index >= 0:
            parts += ["mapped", str(int(task.map_index))]
    else:
        parts += ["tasks", quote(task.task_id, safe="")]
    return "/".join(parts)
