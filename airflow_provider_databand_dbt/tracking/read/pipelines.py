"""Pipelines (dbt Cloud jobs): the Pipelines page, one pipeline's header, the CLI's pipeline table.

Health figures (and who tracks the pipeline) are computed over the newest ``WINDOW`` runs of each
pipeline with one small indexed query per pipeline of the page. Run counts are exact and stored on the
pipeline row by the writes, so they cost the same whatever the number of runs.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from typing import Optional

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from airflow_provider_databand_dbt.model.status import TERMINAL_LABELS
from airflow_provider_databand_dbt.tracking.read.chains import retried_run_pks
from airflow_provider_databand_dbt.tracking.read.columns import aware, build, columns
from airflow_provider_databand_dbt.tracking.read.filters import RunFilter
from airflow_provider_databand_dbt.tracking.read.models import DurationPoint, PipelinesPage, PipelineSummary
from airflow_provider_databand_dbt.tracking.read.runs import NEWEST_FIRST, offset_of, trackers_of_runs
from airflow_provider_databand_dbt.tracking.rows import PipelineRow
from airflow_provider_databand_dbt.tracking.schema import pipelines, runs

WINDOW = 30
_IDENTITY = (
    "host",
    "account_id",
    "job_id",
    "name",
    "project_id",
    "project_name",
    "environment_id",
    "environment_name",
)


def _identity_columns() -> tuple[sa.ColumnElement, ...]:
    return (pipelines.c.id, *(pipelines.c[name] for name in _IDENTITY))


def count_by_pipeline(conn: Connection, pipeline_pks: Iterable[int]) -> dict[int, int]:
    """Exact run counts of the given pipelines: the count each pipeline row keeps (``tracking/run_counts.py``)."""
    ids = list(pipeline_pks)
    if not ids:
        return {}
    return dict(conn.execute(sa.select(pipelines.c.id, pipelines.c.run_count).where(pipelines.c.id.in_(ids))).all())


def list_pipelines(conn: Connection, *, page: int = 1, page_size: int = 50) -> PipelinesPage:
    """Pipelines ordered by name, each with its last run and health over its last ``WINDOW`` runs."""
    total = conn.execute(sa.select(sa.func.count()).select_from(pipelines)).scalar_one()
    rows = conn.execute(
        sa.select(*_identity_columns())
        .order_by(sa.func.lower(sa.func.coalesce(pipelines.c.name, "")), pipelines.c.job_id, pipelines.c.id)
        .limit(page_size)
        .offset(offset_of(page, page_size))
    ).all()
    orphans = conn.execute(
        sa.select(sa.func.count()).select_from(runs).where(runs.c.pipeline_id.is_(None))
    ).scalar_one()
    return PipelinesPage(
        items=summarize_pipelines(conn, rows),
        total=total,
        page=page,
        page_size=page_size,
        runs_without_pipeline=orphans,
    )


def find_pipelines(
    conn: Connection, job_id: int, *, account_id: Optional[int] = None, host: Optional[str] = None
) -> list[sa.Row]:
    """Pipeline rows for a job id (several when hosts or accounts share it); ``row.id`` is the pipeline's key."""
    query = sa.select(*_identity_columns()).where(pipelines.c.job_id == job_id)
    if account_id is not None:
        query = query.where(pipelines.c.account_id == account_id)
    if host:
        query = query.where(pipelines.c.host == host)
    return list(conn.execute(query.order_by(pipelines.c.host, pipelines.c.account_id)).all())


def summarize_pipelines(conn: Connection, rows: Sequence[sa.Row]) -> list[PipelineSummary]:
    """Health figures for pipeline rows of :func:`find_pipelines`.

    ``trackers`` are the kinds of tracker that saw the newest ``WINDOW`` runs: who tracks the pipeline
    now, read from a bounded number of runs (all of a pipeline's sources grew with its history).
    """
    ids = [row.id for row in rows]
    if not ids:
        return []
    counts = count_by_pipeline(conn, ids)
    windows = {row.id: _recent(conn, row.id, WINDOW) for row in rows}
    window_pks = [run_pk for window in windows.values() for run_pk, _ in window]
    kinds = trackers_of_runs(conn, window_pks)
    retried = retried_run_pks(conn, window_pks)
    summaries = []
    for row in rows:
        recent = [point for _, point in windows[row.id]]
        trackers = {kind for run_pk, _ in windows[row.id] for kind in kinds.get(run_pk, ())}
        # A retry chain counts once, by its last run: a run that was retried is not an outcome.
        finished = [p for pk, p in windows[row.id] if p.status in TERMINAL_LABELS and pk not in retried]
        durations = [p.duration_seconds for p in finished if p.duration_seconds is not None]
        last = recent[-1] if recent else None
        summaries.append(
            PipelineSummary(
                **{name: getattr(row, name) for name in _IDENTITY},
                run_count=counts.get(row.id, 0),
                last_run_id=last.run_id if last else None,
                last_status=last.status if last else None,
                last_run_at=last.created_at if last else None,
                window_runs=len(recent),
                success_rate=sum(p.status == "success" for p in finished) / len(finished) if finished else None,
                median_duration_seconds=statistics.median(durations) if durations else None,
                trackers=sorted(trackers),
                recent=recent,
            )
        )
    return summaries


def recent_runs(
    conn: Connection, pipeline_pk: int, limit: int, run_filter: Optional[RunFilter] = None
) -> list[DurationPoint]:
    """The newest ``limit`` runs of a pipeline, oldest first (the order a chart reads)."""
    return [point for _, point in _recent(conn, pipeline_pk, limit, run_filter)]


def _recent(
    conn: Connection, pipeline_pk: int, limit: int, run_filter: Optional[RunFilter] = None
) -> list[tuple[int, DurationPoint]]:
    """``(run pk, point)`` of the newest ``limit`` runs of a pipeline, oldest first."""
    query = (
        sa.select(runs.c.id, *columns(runs, DurationPoint, skip=("account_id", "host")))
        .where(runs.c.pipeline_id == pipeline_pk, *(run_filter.clauses(with_status=False) if run_filter else ()))
        .order_by(*NEWEST_FIRST)
        .limit(limit)
    )
    points = [
        (
            r.id,
            DurationPoint(
                run_id=r.run_id, status=r.status, created_at=aware(r.created_at), duration_seconds=r.duration_seconds
            ),
        )
        for r in conn.execute(query)
    ]
    points.reverse()
    return points


def several_accounts(conn: Connection) -> bool:
    """True when pipelines from more than one (host, account) are stored: links must then say which."""
    pairs = sa.select(pipelines.c.host, pipelines.c.account_id).distinct().limit(2).subquery()
    return conn.execute(sa.select(sa.func.count()).select_from(pairs)).scalar_one() > 1


def several_hosts(conn: Connection) -> bool:
    """True when pipelines from more than one dbt Cloud host are stored: lists then show a Host column."""
    hosts = sa.select(pipelines.c.host).distinct().limit(2).subquery()
    return conn.execute(sa.select(sa.func.count()).select_from(hosts)).scalar_one() > 1


def pipeline_rows(conn: Connection) -> list[PipelineRow]:
    """Every pipeline with its run count and latest run (the CLI's table and ``TrackingStore.list_pipelines``)."""
    latest_run = (
        sa.select(runs.c.id)
        .where(runs.c.pipeline_id == pipelines.c.id)
        .order_by(*NEWEST_FIRST, runs.c.id.desc())
        .limit(1)
        .correlate(pipelines)
        .scalar_subquery()
    )
    last = runs.alias("last_run")
    query = (
        sa.select(
            *columns(
                pipelines,
                PipelineRow,
                renamed={
                    "pipeline_id": pipelines.c.id,
                    "last_run_id": last.c.run_id,
                    "last_status": last.c.status,
                    "last_run_at": last.c.created_at,
                    "last_finished_at": last.c.finished_at,
                },
            )
        )
        .select_from(pipelines.outerjoin(last, last.c.id == latest_run))
        .order_by(pipelines.c.host, pipelines.c.account_id, pipelines.c.job_id)
    )
    rows = [build(PipelineRow, row) for row in conn.execute(query)]
    # Most recently active first; pipelines whose runs have no created_at go last.
    rows.sort(key=lambda p: (p.last_run_at is None, -(p.last_run_at.timestamp() if p.last_run_at else 0)))
    return rows
