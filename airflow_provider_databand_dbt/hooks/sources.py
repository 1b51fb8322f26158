"""Which Airflow task tracked a run: the ``TrackingSource`` row the store keeps per sighting."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow_provider_databand_dbt.airflow_compat import get_current_context
from airflow_provider_databand_dbt.model.source import TrackingSource


def airflow_source(context: Mapping[str, Any]) -> TrackingSource:
    """The source for the task instance of ``context`` (dag, task, Airflow run id, try, map index).

    :param context: the Airflow task context passed to ``execute``.
    """
    ti = context["ti"]
    dag_id = ti.dag_id
    task_id = ti.task_id
    map_index = getattr(ti, "map_index", None)
    return TrackingSource(
        kind="airflow",
        name=f"{dag_id}.{task_id}",
        dag_id=dag_id,
        task_id=task_id,
        airflow_run_id=context.get("run_id") or getattr(ti, "run_id", None),
        try_number=getattr(ti, "try_number", None),
        # Airflow marks unmapped tasks with -1; the store keeps None for "not mapped".
        map_index=map_index if isinstance(map_index, int) and map_index >= 0 else None,
    )


def current_source() -> TrackingSource:
    """The running Airflow task as a source, or an ``api`` source outside of a task (a script, a test)."""
    try:
        context = get_current_context()
    except Exception:  # Airflow raises its own exception type outside a task; any failure means "no task"
        return TrackingSource(kind="api")
    return airflow_source(context)
