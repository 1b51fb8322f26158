"""Deterministic OpenLineage run ids: tracking a run again re-sends the same ids, so nothing is duplicated downstream.

A dbt Cloud run and each of its node executions get a UUIDv7-shaped id made by the client's
``generate_static_uuid`` from the run's creation time and ``host/account/run[/step/node]``: stable for a
run, time-ordered like the ids the OpenLineage integrations make. The Airflow task that triggered a run
gets the id the Airflow OpenLineage provider gives it (``build_task_instance_run_id``) whenever its
logical date can be read from the DAG run id (``scheduled__<date>``, ``manual__<date>``...); otherwise
a uuid5 of the task instance's keys (see docs/openlineage.md).
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timezone
from typing import Optional

import msgspec

from airflow_provider_databand_dbt.model.attribution import attribution_from_cause
from airflow_provider_databand_dbt.model.report import RunReport
from airflow_provider_databand_dbt.model.source import TrackingSource

# Airflow's own run ids: ``<run type>__<ISO date>``, in Airflow 3 with ``_<random>`` after a run_after date.
_DATED_RUN_ID = re.compile(r"^[a-z_]+?__(\d{4}-\d{2}-\d{2}T[0-9:.+\-]+)(?:_[A-Za-z0-9]+)?$")


class AirflowParent(msgspec.Struct, frozen=True, kw_only=True):
    """The Airflow task instance that triggered (or tracked) a dbt Cloud run."""

    dag_id: str
    task_id: str
    airflow_run_id: Optional[str] = None
    try_number: Optional[int] = None
    map_index: Optional[int] = None

    @property
    def job_name(self) -> str:
        """``<dag_id>.<task_id>``: the job name the Airflow OpenLineage provider gives a task."""
        return f"{self.dag_id}.{self.task_id}"


def run_level_run_id(report: RunReport) -> str:
    """The dbt Cloud run's OpenLineage run id."""
    return _static_id(report, f"{report.host}/{report.account_id}/{report.run_id}")


def node_run_id(report: RunReport, step_index: int, unique_id: str) -> str:
    """One node execution's run id (a node built in two steps of the run is two executions)."""
    return _static_id(report, f"{report.host}/{report.account_id}/{report.run_id}/{step_index}/{unique_id}")


def airflow_parent(report: RunReport, source: TrackingSource) -> Optional[AirflowParent]:
    """The Airflow task behind the run: the tracking task itself, else the one the run's cause names."""
    if source.kind == "airflow" and source.dag_id and source.task_id:
        return AirflowParent(
            dag_id=source.dag_id,
            task_id=source.task_id,
            airflow_run_id=source.airflow_run_id,
            try_number=source.try_number,
            map_index=source.map_index,
        )
    found = attribution_from_cause(report.trigger_cause)
    if found is None:
        return None
    return AirflowParent(
        dag_id=found.dag_id,
        task_id=found.task_id,
        airflow_run_id=found.airflow_run_id,
        try_number=found.try_number,
        map_index=found.map_index,
    )


def airflow_task_run_id(namespace: str, parent: AirflowParent) -> str:
    """The task instance's run id: the Airflow OpenLineage provider's when it can be derived, else ours."""
    map_index = parent.map_index if parent.map_index is not None else -1  # Airflow's "not mapped"
    logical_date = logical_date_of(parent.airflow_run_id)
    if logical_date is not None and parent.try_number is not None:
        from openlineage.client.uuid import generate_static_uuid

        data = f"{namespace}.{parent.dag_id}.{parent.task_id}.{parent.try_number}.{map_index}"
        return str(generate_static_uuid(instant=logical_date, data=data.encode()))
    key = f"{namespace}.{parent.dag_id}.{parent.task_id}.{parent.airflow_run_id}.{parent.try_number}.{map_index}"
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"databand-dbt:airflow-task:{key}"))


def logical_date_of(airflow_run_id: Optional[str]) -> Optional[datetime]:
    """The date in an Airflow-made DAG run id (the logical date, or run_after when there is none); None otherwise."""
    found = _DATED_RUN_ID.match(airflow_run_id or "")
    if found is None:
        return None
    try:
        parsed = datetime.fromisoformat(found.group(1))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _static_id(report: RunReport, key: str) -> str:
    instant = report.created_at or report.started_at
    if instant is None:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"databand-dbt:{key}"))
    from openlineage.client.uuid import generate_static_uuid

    return str(generate_static_uuid(instant=instant, data=key.encode()))
