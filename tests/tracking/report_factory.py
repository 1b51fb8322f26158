"""Small builders for RunReports and sources, so store tests do not depend on the collector."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Optional

from airflow_provider_databand_dbt.model.report import ArtifactMissing, NodeResult, RunReport, StepReport
from airflow_provider_databand_dbt.model.source import TrackingSource

HOST = "cloud.getdbt.com"
ACCOUNT_ID = 1
BASE_TIME = datetime(2026, 11, 20, 8, 0, 0, 123456, tzinfo=timezone.utc)
NODE_STATUSES = ("success", "error", "skipped", "pass", "fail", "warn")


def make_node(i: int, *, status: str = "success", started_at: Optional[datetime] = None) -> NodeResult:
    started = started_at or BASE_TIME + timedelta(seconds=i)
    resource_type = "test" if status in ("pass", "fail", "warn") else "model"
    return NodeResult(
        unique_id=f"{resource_type}.jaffle_shop.node_{i}",
        name=f"node_{i}",
        resource_type=resource_type,
        status=status,
        execution_time=0.25 + i / 1000,
        rows_affected=i * 10 if resource_type == "model" else None,
        message=f"Database Error in node_{i}: boom" if status == "error" else None,
        failures=3 if status == "fail" else (0 if resource_type == "test" else None),
        depends_on=[f"model.jaffle_shop.node_{i - 1}"] if i else [],
        started_at=started,
        finished_at=started + timedelta(milliseconds=250),
        materialization="table" if resource_type == "model" else None,
        tags=["nightly", "finance"] if i % 2 else [],
        package_name="jaffle_shop",
        code_hash=f"sha256:{i:064x}",
        thread_id=f"Thread-{i % 4 + 1}",
    )


def make_report(
    run_id: int = 70001,
    *,
    status: str = "success",
    host: str = HOST,
    account_id: int = ACCOUNT_ID,
    job_id: Optional[int] = 100,
    job_name: Optional[str] = "Nightly build",
    created_at: Optional[datetime] = BASE_TIME,
    node_count: int = 6,
    node_statuses: tuple[str, ...] = NODE_STATUSES,
    tz: timezone = timezone.utc,
) -> RunReport:
    """A realistic finished (or in-progress) run: a seed step and a build step with ``node_count`` nodes."""
    finished = status in ("success", "error", "cancelled")
    created = created_at.astimezone(tz) if created_at else None
    nodes = [make_node(i, status=node_statuses[i % len(node_statuses)]) for i in range(node_count)]
    steps = [
        StepReport(
            index=1,
            name="Clone git repository",
            command=None,
            status="success",
            started_at=created,
            finished_at=created + timedelta(seconds=2) if created else None,
            duration_seconds=2.0,
        ),
        StepReport(
            index=4,
            name="Invoke dbt build",
            command="dbt build --select tag:nightly",
            status="error" if status == "error" else ("running" if not finished else "success"),
            started_at=created + timedelta(seconds=3) if created else None,
            finished_at=created + timedelta(seconds=40) if created and finished else None,
            duration_seconds=37.0 if finished else None,
            artifacts_missing=[ArtifactMissing(artifact="sources.json", reason="404 not found")],
            nodes=nodes,
        ),
    ]
    return RunReport(
        host=host,
        account_id=account_id,
        run_id=run_id,
        job_id=job_id,
        job_name=job_name,
        project_id=10 if job_id is not None else None,
        project_name="Jaffle shop",
        environment_id=20,
        environment_name="Production",
        status=status,
        status_message="Ran with errors" if status == "error" else None,
        trigger_cause="Kicked off from Airflow",
        git_branch="main",
        git_sha="0123456789abcdef0123456789abcdef01234567",
        dbt_version="1.10.0",
        created_at=created,
        started_at=created + timedelta(seconds=1) if created else None,
        finished_at=created + timedelta(seconds=41) if created and finished else None,
        duration_seconds=41.0 if finished else None,
        url=f"https://{host}/deploy/{account_id}/projects/10/runs/{run_id}/",
        steps=steps,
        collected_at=(created or BASE_TIME) + timedelta(minutes=1),
    )


def airflow_source(try_number: int = 1) -> TrackingSource:
    return TrackingSource(
        kind="airflow",
        name="dbt_nightly.run_and_track",
        dag_id="dbt_nightly",
        task_id="run_and_track",
        airflow_run_id="scheduled__2026-11-20T08:00:00+00:00",
        try_number=try_number,
        map_index=-1,
    )


def monitor_source(syncer: str = "prod") -> TrackingSource:
    return TrackingSource(kind="monitor", name=syncer)
