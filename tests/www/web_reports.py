"""Hand-built run reports for what the emulator cannot produce: hostile names, shared ids, odd runs."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Optional

from airflow_provider_databand_dbt.model.report import ArtifactMissing, NodeResult, RunReport, StepReport
from airflow_provider_databand_dbt.model.source import TrackingSource

T0 = datetime(2026, 11, 20, 6, 0, tzinfo=timezone.utc)
HOSTILE_NAME = '<script>alert("name")</script><b>bold</b>'
HOSTILE_MESSAGE = "<img src=x onerror=alert(1)> & </td></tr><script>alert('msg')</script>"


def node(
    unique_id: str,
    status: str,
    *,
    name: Optional[str] = None,
    message: Optional[str] = None,
    depends_on: tuple[str, ...] = (),
    offset: float = 0.0,
    seconds: float = 1.0,
    resource_type: Optional[str] = None,
) -> NodeResult:
    return NodeResult(
        unique_id=unique_id,
        name=name or unique_id.split(".")[-1],
        resource_type=resource_type or unique_id.split(".")[0],
        status=status,
        execution_time=seconds,
        message=message,
        depends_on=list(depends_on),
        started_at=T0 + timedelta(seconds=offset),
        finished_at=T0 + timedelta(seconds=offset + seconds),
        thread_id="Thread-1",
    )


def report(
    run_id: int,
    *,
    status: str = "success",
    host: str = "cloud.getdbt.com",
    account_id: int = 1,
    job_id: Optional[int] = 500,
    job_name: str = "Hand-built job",
    nodes: tuple[NodeResult, ...] = (),
    created_at: datetime = T0,
    missing: tuple[ArtifactMissing, ...] = (),
    status_message: Optional[str] = None,
    url: Optional[str] = None,
) -> RunReport:
    finished = status in ("success", "error", "cancelled")
    step = StepReport(
        index=1,
        name="Invoke dbt with `dbt build`",
        command="dbt build",
        status=status if finished else "running",
        started_at=created_at,
        finished_at=created_at + timedelta(seconds=30) if finished else None,
        duration_seconds=30.0 if finished else None,
        artifacts_missing=list(missing),
        nodes=list(nodes),
    )
    return RunReport(
        host=host,
        account_id=account_id,
        run_id=run_id,
        job_id=job_id,
        job_name=job_name,
        project_id=7,
        project_name="Project",
        environment_id=8,
        environment_name="Prod",
        status=status,
        status_message=status_message,
        trigger_cause="Triggered via API",
        git_branch="main",
        git_sha="abc123",
        dbt_version="1.10.0",
        created_at=created_at,
        started_at=created_at,
        finished_at=created_at + timedelta(seconds=30) if finished else None,
        duration_seconds=30.0 if finished else None,
        url=url,
        steps=[step],
    )


def cli_source() -> TrackingSource:
    return TrackingSource(kind="cli", name="test")
