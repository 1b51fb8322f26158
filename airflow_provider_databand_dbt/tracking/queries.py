"""Reading the store: rebuild a RunReport, list pipelines and runs, a node's history, a run's sources.

Every listing sorts newest first by (created_at, run_id) and filters on indexed columns (see
``schema.py``). Runs without ``created_at`` (never the case for dbt Cloud runs) sort after the others
on SQLite and before them on PostgreSQL, each database's natural order for its index.
"""
from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Iterable, Optional, Sequence, Union

import msgspec
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from airflow_provider_databand_dbt.model.report import (
    ArtifactMissing,
    NodeResult,
    RereadFailure,
    RunReport,
    StepReport,
)
from airflow_provider_databand_dbt.tracking.rows import NodeHistoryRow, PipelineRow, RunRow
from airflow_provider_databand_dbt.tracking.schema import node_result_view, node_results, pipelines, runs, sources, steps
from airflow_provider_databand_dbt.model.source import TrackingSource

StatusFilter = Union[str, Sequence[str], None]

_NEWEST_FIRST = (runs.c.created_at.desc(), runs.c.run_id.desc(), runs.c.id.desc())
_REPORT_RUN_FIELDS = (
    "host", "account_id", "run_id", "job_id", "job_name", "project_id", "project_name", "environment_id",
    "environment_name", "status", "status_message", "trigger_cause", "git_branch", "git_sha", "dbt_version",
    "created_at", "started_at", "finished_at", "duration_seconds", "url", "collected_at", "notes",
)
_NODE_FIELDS = tuple(field for field in NodeResult.__struct_fields__)
_SOURCE_FIELDS = tuple(field for field in TrackingSource.__struct_fields__)
_RUN_ROW_COLUMNS = [
    runs.c.id.label("run_pk"),
    *(runs.c[name] for name in RunRow.__struct_fields__ if name not in ("run_pk", "source_kinds")),
]


def find_run_pk(conn: Connection, run_id: int, account_id: Optional[int] = None, host: Optional[str] = None) -> Optional[int]:
    """The row id of a tracked run; when several hosts or accounts share the run id, the most recently updated."""
    query = sa.select(runs.c.id).where(runs.c.run_id == run_id)
    if account_id is not None:
        query = query.where(runs.c.account_id == account_id)
    if host is not None:
        query = query.where(runs.c.host == host)
    return conn.execute(query.order_by(runs.c.updated_at.desc(), runs.c.id.desc()).limit(1)).scalar()


def load_report(conn: Connection, run_pk: int) -> RunReport:
    """Rebuild the RunReport that was saved for a run, steps and nodes in their original order."""
    run = conn.execute(sa.select(*(runs.c[name] for name in _REPORT_RUN_FIELDS)).where(runs.c.id == run_pk)).one()
    nodes_by_step: dict[int, list[NodeResult]] = defaultdict(list)
    node_query = (
        sa.select(node_result_view.c.step_index, *(node_result_view.c[name] for name in _NODE_FIELDS))
        .where(node_result_view.c.run_pk == run_pk)
        .order_by(node_result_view.c.id)
    )
    for row in conn.execute(node_query):
        values = row._mapping
        nodes_by_step[row.step_index].append(NodeResult(**{name: values[name] for name in _NODE_FIELDS}))
    step_query = sa.select(steps).where(steps.c.run_pk == run_pk).order_by(steps.c.id)
    step_reports = [
        StepReport(
            index=row.step_index,
            name=row.name,
            command=row.command,
            status=row.status,
            started_at=row.started_at,
            finished_at=row.finished_at,
            duration_seconds=row.duration_seconds,
            artifacts_missing=msgspec.convert(row.artifacts_missing or [], list[ArtifactMissing]),
            reread_failed=msgspec.convert(row.reread_failed, RereadFailure) if row.reread_failed else None,
            nodes=nodes_by_step.get(row.step_index, []),
        )
        for row in conn.execute(step_query)
    ]
    run_values = dict(run._mapping)
    run_values["notes"] = list(run_values["notes"] or [])
    return RunReport(**run_values, steps=step_reports)


def run_filters(
    *,
    job_id: Optional[int] = None,
    status: StatusFilter = None,
    since: Optional[datetime] = None,
    until: Optional[datetime] = None,
    run_id: Optional[int] = None,
    account_id: Optional[int] = None,
    host: Optional[str] = None,
) -> list[sa.ColumnElement]:
    """WHERE clauses for run listings: job, status (one or several), created_at in [since, until), run key parts."""
    clauses: list[sa.ColumnElement] = []
    for column, value in ((runs.c.run_id, run_id), (runs.c.account_id, account_id), (runs.c.host, host)):
        if value is not None:
            clauses.append(column == value)
    if job_id is not None:
        clauses.append(runs.c.job_id == job_id)
    if isinstance(status, str):
        clauses.append(runs.c.status == status)
    elif status is not None:
        clauses.append(runs.c.status.in_(list(status)))
    if since is not None:
        clauses.append(runs.c.created_at >= since)
    if until is not None:
        clauses.append(runs.c.created_at < until)
    return clauses


def runs_query(clauses: Iterable[sa.ColumnElement], *, limit: int, offset: int) -> sa.Select:
    return (
        sa.select(*_RUN_ROW_COLUMNS)
        .where(*clauses)
        .order_by(*_NEWEST_FIRST)
        .limit(max(0, int(limit)))
        .offset(max(0, int(offset)))
    )


def list_runs(conn: Connection, clauses: list[sa.ColumnElement], *, limit: int, offset: int) -> list[RunRow]:
    rows = conn.execute(runs_query(clauses, limit=limit, offset=offset)).all()
    kinds = _source_kinds(conn, [row.run_pk for row in rows])
    return [_run_row(row, kinds.get(row.run_pk, [])) for row in rows]


def count_runs(conn: Connection, clauses: list[sa.ColumnElement]) -> int:
    return conn.execute(sa.select(sa.func.count()).select_from(runs).where(*clauses)).scalar_one()


def _source_kinds(conn: Connection, run_pks: list[int]) -> dict[int, list[str]]:
    if not run_pks:
        return {}
    query = (
        sa.select(sources.c.run_pk, sources.c.kind)
        .where(sources.c.run_pk.in_(run_pks))
        .group_by(sources.c.run_pk, sources.c.kind)
    )
    kinds: dict[int, list[str]] = defaultdict(list)
    for run_pk, kind in conn.execute(query):
        kinds[run_pk].append(kind)
    return {run_pk: sorted(values) for run_pk, values in kinds.items()}


def _run_row(row: Row, source_kinds: list[str]) -> RunRow:
    values = dict(row._mapping)
    values["summary"] = values.get("summary") or {}
    values["notes"] = list(values.get("notes") or [])
    return RunRow(**values, source_kinds=source_kinds)


def pipelines_query() -> sa.Select:
    """One row per pipeline with its run count and latest run, found through the (pipeline, created_at) index."""
    latest_run = (
        sa.select(runs.c.id)
        .where(runs.c.pipeline_id == pipelines.c.id)
        .order_by(*_NEWEST_FIRST)
        .limit(1)
        .correlate(pipelines)
        .scalar_subquery()
    )
    run_count = (
        sa.select(sa.func.count(runs.c.id))
        .where(runs.c.pipeline_id == pipelines.c.id)
        .correlate(pipelines)
        .scalar_subquery()
    )
    last = runs.alias("last_run")
    return (
        sa.select(
            pipelines.c.id.label("pipeline_id"),
            *(pipelines.c[name] for name in (
                "host", "account_id", "job_id", "name", "project_id", "project_name", "environment_id",
                "environment_name", "first_seen_at", "updated_at",
            )),
            run_count.label("run_count"),
            last.c.run_id.label("last_run_id"),
            last.c.status.label("last_status"),
            last.c.created_at.label("last_run_at"),
            last.c.finished_at.label("last_finished_at"),
        )
        .select_from(pipelines.outerjoin(last, last.c.id == latest_run))
        .order_by(pipelines.c.host, pipelines.c.account_id, pipelines.c.job_id)
    )


def list_pipelines(conn: Connection) -> list[PipelineRow]:
    rows = [PipelineRow(**dict(row._mapping)) for row in conn.execute(pipelines_query())]
    # Most recently active first; pipelines whose runs have no created_at go last.
    rows.sort(key=lambda p: (p.last_run_at is None, -(p.last_run_at.timestamp() if p.last_run_at else 0)))
    return rows


def list_sources(conn: Connection, run_pk: int) -> list[TrackingSource]:
    query = (
        sa.select(*(sources.c[name] for name in _SOURCE_FIELDS))
        .where(sources.c.run_pk == run_pk)
        .order_by(sources.c.tracked_at, sources.c.id)
    )
    return [TrackingSource(**dict(row._mapping)) for row in conn.execute(query)]


def node_history_query(unique_id: str, *, job_id: Optional[int], limit: int) -> sa.Select:
    """A node's result per run (its last step in that run), newest run first."""
    other = node_results.alias("same_node")
    last_step = (
        sa.select(sa.func.max(other.c.step_index))
        .where((other.c.node_id == node_result_view.c.node_id) & (other.c.run_pk == node_result_view.c.run_pk))
        .correlate(node_result_view)
        .scalar_subquery()
    )
    query = (
        sa.select(
            node_result_view.c.run_pk,
            runs.c.host,
            runs.c.account_id,
            runs.c.run_id,
            runs.c.job_id,
            runs.c.status.label("run_status"),
            runs.c.created_at.label("run_created_at"),
            node_result_view.c.step_index,
            node_result_view.c.unique_id,
            node_result_view.c.status,
            node_result_view.c.execution_time,
            node_result_view.c.rows_affected,
            node_result_view.c.failures,
            node_result_view.c.message,
        )
        .select_from(node_result_view.join(runs, runs.c.id == node_result_view.c.run_pk))
        .where(node_result_view.c.unique_id == unique_id, node_result_view.c.step_index == last_step)
        .order_by(*_NEWEST_FIRST)
        .limit(max(0, int(limit)))
    )
    if job_id is not None:
        query = query.where(runs.c.job_id == job_id)
    return query


def node_history(conn: Connection, unique_id: str, *, job_id: Optional[int], limit: int) -> list[NodeHistoryRow]:
    query = node_history_query(unique_id, job_id=job_id, limit=limit)
    return [NodeHistoryRow(**dict(row._mapping)) for row in conn.execute(query)]
