"""Finished dbt Cloud runs built in code, for the alert tests and ``benchmarks/bench_alerts.py``.

A run is one ``dbt build`` step whose nodes are given as :class:`NodeSpec`; names, times and
dependencies are derived so every report is realistic enough for the store and the alert rules.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import Optional

import msgspec

from airflow_provider_databand_dbt.model.report import NodeResult, RunReport, StepReport

HOST = "cloud.getdbt.com"
ACCOUNT_ID = 7
START = datetime(2026, 1, 1, tzinfo=timezone.utc)


class NodeSpec(msgspec.Struct, frozen=True, kw_only=True):
    """One node's outcome in a synthetic run."""

    name: str
    resource_type: str = "model"
    status: str = "success"
    seconds: float = 2.0
    rows: Optional[int] = None
    depends_on: tuple[str, ...] = ()
    message: Optional[str] = None

    @property
    def unique_id(self) -> str:
        return f"{self.resource_type}.shop.{self.name}"


def build_report(
    run_id: int,
    *,
    job_id: int = 1,
    status: str = "success",
    nodes: Sequence[NodeSpec] = (),
    created_at: Optional[datetime] = None,
    duration_seconds: Optional[float] = None,
    host: str = HOST,
    account_id: int = ACCOUNT_ID,
) -> RunReport:
    """A finished (or, with ``status="running"``, in-progress) run of job ``job_id`` with ``nodes`` in one step."""
    created = created_at or START + timedelta(hours=run_id)
    finished = status in ("success", "error", "cancelled")
    duration = duration_seconds if duration_seconds is not None else sum(n.seconds for n in nodes) + 10.0
    results = [
        NodeResult(
            unique_id=n.unique_id,
            name=n.name,
            resource_type=n.resource_type,
            status=n.status,
            execution_time=n.seconds,
            rows_affected=n.rows,
            message=n.message or (f"Database Error in {n.name}" if n.status in ("error", "fail") else None),
            depends_on=list(n.depends_on),
            started_at=created,
            finished_at=created + timedelta(seconds=n.seconds),
        )
        for n in nodes
    ]
    step = StepReport(
        index=1,
        name="Invoke dbt with `dbt build`",
        command="dbt build",
        status=status if finished else "running",
        started_at=created,
        finished_at=created + timedelta(seconds=duration) if finished else None,
        duration_seconds=duration if finished else None,
        nodes=results,
    )
    return RunReport(
        host=host,
        account_id=account_id,
        run_id=run_id,
        job_id=job_id,
        job_name=f"job {job_id}",
        project_id=1,
        project_name="shop",
        environment_id=1,
        environment_name="prod",
        status=status,
        status_message="Ran with errors" if status == "error" else None,
        created_at=created,
        started_at=created,
        finished_at=created + timedelta(seconds=duration) if finished else None,
        duration_seconds=duration if finished else None,
        url=f"https://{host}/deploy/{account_id}/projects/1/runs/{run_id}/",
        steps=[step],
    )
