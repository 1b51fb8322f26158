"""Read-only queries behind the Pipelines, Pipeline and Node history pages (and their JSON API).

Every list is paged and every filter lands on an index of ``tracking/schema.py``: runs by
``(pipeline_id | status | -, created_at, run_id)`` and ``run_id``; node results by
``(unique_id, run_pk)``; sources by ``run_pk``. Health figures (and who tracks the pipeline) are
computed over the newest ``WINDOW`` runs of each pipeline with one small indexed query per pipeline of
the page, so the Pipelines page costs the same whatever the number of stored runs.
"""
from __future__ import annotations

import statistics
from datetime import date, datetime, time, timedelta, timezone
from typing import Callable, Iterable, Mapping, Optional, Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection  # not Connection: SQLAlchemy 1.4 lacks it

from airflow_provider_databand_dbt.tracking.schema import (
    node_definitions,
    node_result_view,
    node_results,
    nodes,
    pipelines,
    runs,
    sources,
)
from airflow_provider_databand_dbt.model.status import NODE_FAILED, NODE_OK, TERMINAL_LABELS
from airflow_provider_databand_dbt.www.format import aware
from airflow_provider_databand_dbt.www.models import (
    DurationPoint,
    NodeHistory,
    NodeRun,
    NodeTrend,
    PipelineSummary,
    PipelinesPage,
    RunRow,
    RunsPage,
)
from airflow_provider_databand_dbt.www.run_counts import count_by_pipeline

WINDOW = 30
# The store's run indexes end in (created_at, run_id): every list sorts on exactly that.
NEWEST_FIRST = (runs.c.created_at.desc(), runs.c.run_id.desc())
TREND_POINTS = 200
# ``(conn, pipeline pks) -> {pk: runs}``: exact by default, ``RunCounts.of`` in the web view.
Counter = Callable[[Connection, Iterable[int]], Mapping[int, int]]


class RunFilter:
    """Filters of a runs list; dates are UTC days, ``until`` inclusive."""

    def __init__(
        self,
        *,
        status: Optional[str] = None,
        since: Optional[date] = None,
        until: Optional[date] = None,
    ) -> None:
        self.status = status
        self.since = since
        self.until = until

    def clauses(self, *, with_status: bool = True) -> list:
        found = []
        if with_status and self.status:
            found.append(runs.c.status == self.status)
        if self.since:
            found.append(runs.c.created_at >= datetime.combine(self.since, time.min, tzinfo=timezone.utc))
        if self.until:
            end = datetime.combine(self.until + timedelta(days=1), time.min, tzinfo=timezone.utc)
            found.append(runs.c.created_at < end)
        return found


def _offset(page: int, page_size: int) -> int:
    return (max(page, 1) - 1) * page_size


# --- pipelines ---------------------------------------------------------------------------------

def _pipeline_columns():
    return (
        pipelines.c.id,
        pipelines.c.host,
        pipelines.c.account_id,
        pipelines.c.job_id,
        pipelines.c.name,
        pipelines.c.project_id,
        pipelines.c.project_name,
        pipelines.c.environment_id,
        pipelines.c.environment_name,
    )


def list_pipelines(conn: Connection, *, page: int = 1, page_size: int = 50,
                   count_runs: Counter = count_by_pipeline) -> PipelinesPage:
    """Pipelines ordered by name, each with its last run and health over its last ``WINDOW`` runs."""
    total = conn.execute(sa.select(sa.func.count()).select_from(pipelines)).scalar_one()
    rows = conn.execute(
        sa.select(*_pipeline_columns())
        .order_by(sa.func.lower(sa.func.coalesce(pipelines.c.name, "")), pipelines.c.job_id, pipelines.c.id)
        .limit(page_size)
        .offset(_offset(page, page_size))
    ).all()
    orphans = conn.execute(
        sa.select(sa.func.count()).select_from(runs).where(runs.c.pipeline_id.is_(None))
    ).scalar_one()
    return PipelinesPage(
        items=summarize_pipelines(conn, rows, count_runs=count_runs),
        total=total,
        page=page,
        page_size=page_size,
        runs_without_pipeline=orphans,
    )


def find_pipelines(
    conn: Connection, job_id: int, *, account_id: Optional[int] = None, host: Optional[str] = None
) -> list:
    """Pipeline rows for a job id (several when hosts or accounts share it)."""
    query = sa.select(*_pipeline_columns()).where(pipelines.c.job_id == job_id)
    if account_id is not None:
        query = query.where(pipelines.c.account_id == account_id)
    if host:
        query = query.where(pipelines.c.host == host)
    return conn.execute(query.order_by(pipelines.c.host, pipelines.c.account_id)).all()


def summarize_pipelines(conn: Connection, rows: Sequence, *,
                        count_runs: Counter = count_by_pipeline) -> list[PipelineSummary]:
    """Health figures for the given pipeline rows (columns of ``_pipeline_columns``).

    ``trackers`` are the kinds of tracker that saw the newest ``WINDOW`` runs: who tracks the pipeline
    now, read from a bounded number of runs (all of a pipeline's sources grew with its history).
    """
    ids = [row.id for row in rows]
    if not ids:
        return []
    counts = count_runs(conn, ids)
    windows = {row.id: _recent(conn, row.id, WINDOW) for row in rows}
    kinds = trackers_of_runs(conn, [run_pk for window in windows.values() for run_pk, _ in window])
    summaries = []
    for row in rows:
        recent = [point for _, point in windows[row.id]]
        trackers = {kind for run_pk, _ in windows[row.id] for kind in kinds.get(run_pk, ())}
        finished = [p for p in recent if p.status in TERMINAL_LABELS]
        durations = [p.duration_seconds for p in finished if p.duration_seconds is not None]
        last = recent[-1] if recent else None
        summaries.append(
            PipelineSummary(
                host=row.host,
                account_id=row.account_id,
                job_id=row.job_id,
                name=row.name,
                project_id=row.project_id,
                project_name=row.project_name,
                environment_id=row.environment_id,
                environment_name=row.environment_name,
                run_count=counts.get(row.id, 0),
                last_run_id=last.run_id if last else None,
                last_status=last.status if last else None,
                last_run_at=last.created_at if last else None,
                window_runs=len(recent),
                success_rate=(
                    sum(p.status == "success" for p in finished) / len(finished) if finished else None
                ),
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
        sa.select(runs.c.id, runs.c.run_id, runs.c.status, runs.c.created_at, runs.c.duration_seconds)
        .where(runs.c.pipeline_id == pipeline_pk, *(run_filter.clauses(with_status=False) if run_filter else ()))
        .order_by(*NEWEST_FIRST)
        .limit(limit)
    )
    points = [
        (r.id, DurationPoint(run_id=r.run_id, status=r.status, created_at=aware(r.created_at),
                             duration_seconds=r.duration_seconds))
        for r in conn.execute(query)
    ]
    points.reverse()
    return points


# --- runs --------------------------------------------------------------------------------------

def list_runs(
    conn: Connection,
    *,
    pipeline_pk: Optional[int] = None,
    run_filter: Optional[RunFilter] = None,
    page: int = 1,
    page_size: int = 50,
    total: Optional[int] = None,
) -> RunsPage:
    """Runs newest first (created time, then run id), optionally of one pipeline, filtered and paged.

    :param total: how many runs match, when the caller already knows (else they are counted).
    """
    where = list(run_filter.clauses() if run_filter else [])
    if pipeline_pk is not None:
        where.append(runs.c.pipeline_id == pipeline_pk)
    if total is None:
        total = conn.execute(sa.select(sa.func.count()).select_from(runs).where(*where)).scalar_one()
    query = (
        sa.select(
            runs.c.id, runs.c.host, runs.c.account_id, runs.c.run_id, runs.c.job_id, runs.c.job_name,
            runs.c.status, runs.c.status_message, runs.c.trigger_cause, runs.c.git_branch,
            runs.c.created_at, runs.c.started_at, runs.c.finished_at, runs.c.duration_seconds,
            runs.c.node_count, runs.c.summary,
        )
        .where(*where)
        .order_by(*NEWEST_FIRST)
        .limit(page_size)
        .offset(_offset(page, page_size))
    )
    rows = conn.execute(query).all()
    kinds = trackers_of_runs(conn, [r.id for r in rows])
    items = [
        RunRow(
            host=r.host, account_id=r.account_id, run_id=r.run_id, job_id=r.job_id, job_name=r.job_name,
            status=r.status, status_message=r.status_message, trigger_cause=r.trigger_cause,
            git_branch=r.git_branch, created_at=aware(r.created_at), started_at=aware(r.started_at),
            finished_at=aware(r.finished_at), duration_seconds=r.duration_seconds,
            node_count=r.node_count or 0, summary=dict(r.summary or {}), trackers=kinds.get(r.id, []),
        )
        for r in rows
    ]
    return RunsPage(items=items, total=total, page=page, page_size=page_size)


def trackers_of_runs(conn: Connection, run_pks: Iterable[int]) -> dict[int, list[str]]:
    """Kinds of tracker (airflow, monitor, cli, api) that saw each run."""
    run_pks = list(run_pks)
    found: dict[int, set[str]] = {}
    if run_pks:
        for run_pk, kind in conn.execute(
            sa.select(sources.c.run_pk, sources.c.kind).where(sources.c.run_pk.in_(run_pks)).distinct()
        ):
            found.setdefault(run_pk, set()).add(kind)
    return {pk: sorted(kinds) for pk, kinds in found.items()}


def count_runs(conn: Connection) -> int:
    return conn.execute(sa.select(sa.func.count()).select_from(runs)).scalar_one()


# --- node history ------------------------------------------------------------------------------

def node_history(
    conn: Connection,
    unique_id: str,
    *,
    job_id: Optional[int] = None,
    account_id: Optional[int] = None,
    host: Optional[str] = None,
    page: int = 1,
    page_size: int = 50,
) -> NodeHistory:
    """One node across runs, newest first, with a chart of its newest results and a trend verdict.

    :param job_id: only runs of this dbt Cloud job (with ``account_id`` / ``host`` to narrow further).
    """
    where = [nodes.c.unique_id == unique_id]
    if job_id is not None:
        where.append(runs.c.job_id == job_id)
    if account_id is not None:
        where.append(runs.c.account_id == account_id)
    if host:
        where.append(runs.c.host == host)
    node_rows = node_results.join(nodes, nodes.c.id == node_results.c.node_id)
    # SQLite: "+ 0" keeps it from reaching runs by primary key, so it walks runs newest first and stops at the page
    # (a node has one id per pipeline; it would otherwise sort all of the node's results).
    run_pk = runs.c.id + 0 if conn.dialect.name == "sqlite" else runs.c.id
    joined = node_rows.join(runs, run_pk == node_results.c.run_pk)
    # Without run filters the count reads the node's (node_id, ...) index entries alone: 17x less than with the join.
    counted = joined if len(where) > 1 else node_rows
    total = conn.execute(sa.select(sa.func.count()).select_from(counted).where(*where)).scalar_one()
    columns = (
        runs.c.run_id, runs.c.host, runs.c.account_id, runs.c.job_id, runs.c.job_name,
        runs.c.status.label("run_status"), runs.c.created_at, node_results.c.step_index,
        node_results.c.definition_id, node_results.c.status,
        node_results.c.execution_time, node_results.c.rows_affected, node_results.c.message,
    )
    base = (
        sa.select(*columns)
        .select_from(joined)
        .where(*where)
        .order_by(*NEWEST_FIRST, node_results.c.step_index.desc())
    )
    # Names come from the definitions of the rows shown only, so sorting all of a node's runs reads no definition.
    page_rows = conn.execute(base.limit(page_size).offset(_offset(page, page_size))).all()
    newest_rows = page_rows if page == 1 and total <= page_size else conn.execute(base.limit(TREND_POINTS)).all()
    names = _definition_names(conn, {r.definition_id for r in (*page_rows, *newest_rows)})
    items = [_node_run(r, names) for r in page_rows]
    newest = items if newest_rows is page_rows else [_node_run(r, names) for r in newest_rows]
    latest = newest[0] if newest else None
    chart = [
        DurationPoint(run_id=n.run_id, status=n.status, created_at=n.run_created_at,
                      duration_seconds=n.execution_time, account_id=n.account_id, host=n.host)
        for n in reversed(newest)
    ]
    return NodeHistory(
        unique_id=unique_id,
        name=latest.name if latest else None,
        resource_type=latest.resource_type if latest else None,
        items=items,
        total=total,
        page=page,
        page_size=page_size,
        trend=node_trend(newest),
        chart=chart,
    )


def _definition_names(conn: Connection, definition_ids: set[int]) -> dict[int, tuple[str, str]]:
    """``{definition id: (name, resource_type)}`` for the given definitions."""
    if not definition_ids:
        return {}
    query = sa.select(node_definitions.c.id, node_definitions.c.name, node_definitions.c.resource_type).where(
        node_definitions.c.id.in_(sorted(definition_ids))
    )
    return {row.id: (row.name, row.resource_type) for row in conn.execute(query)}


def _node_run(r, names: dict[int, tuple[str, str]]) -> NodeRun:
    name, resource_type = names[r.definition_id]
    return NodeRun(
        run_id=r.run_id, host=r.host, account_id=r.account_id, job_id=r.job_id, job_name=r.job_name,
        run_status=r.run_status, run_created_at=aware(r.created_at), step_index=r.step_index,
        name=name, resource_type=resource_type, status=r.status, execution_time=r.execution_time,
        rows_affected=r.rows_affected, message=r.message,
    )


def node_trend(newest_first: Sequence[NodeRun]) -> NodeTrend:
    """Failing streak from the newest result back, and recent vs earlier median execution time."""
    trend = NodeTrend()
    for result in newest_first:
        if result.status in NODE_FAILED:
            trend.failing = True
            trend.failing_runs += 1
            trend.failing_since_run_id = result.run_id
            trend.failing_since = result.run_created_at
        elif result.status in NODE_OK:
            trend.last_ok_run_id = result.run_id
            trend.last_ok_at = result.run_created_at
            break
        elif trend.failing_runs == 0:
            continue  # warn/skipped at the head: look further back for the last clear outcome
        else:
            break
    timed = [r.execution_time for r in newest_first if r.execution_time is not None and r.status in NODE_OK]
    if len(timed) >= 6:
        recent_size = min(10, len(timed) // 2)
        recent = statistics.median(timed[:recent_size])
        earlier = statistics.median(timed[recent_size:recent_size + 20])
        trend.recent_median_seconds = recent
        trend.earlier_median_seconds = earlier
        trend.slowdown_ratio = recent / earlier if earlier > 0 else None
    return trend


def search_nodes(conn: Connection, text: str, *, limit: int = 50) -> list[tuple[str, str, str]]:
    """``(unique_id, name, resource_type)`` of nodes matching ``text`` in the latest run of each pipeline.

    Searching only the latest runs keeps this on the ``run_pk`` index instead of scanning every result;
    the latest runs are found with one index step per pipeline (and one for runs without a pipeline).
    """
    newest = sa.select(runs.c.id).order_by(*NEWEST_FIRST).limit(1)
    per_pipeline = sa.select(
        newest.where(runs.c.pipeline_id == pipelines.c.id).correlate(pipelines).scalar_subquery()
    ).select_from(pipelines)
    latest = [pk for pk in conn.execute(per_pipeline).scalars() if pk is not None]
    latest += conn.execute(newest.where(runs.c.pipeline_id.is_(None))).scalars().all()
    pattern = f"%{text.lower()}%"
    query = (
        sa.select(node_result_view.c.unique_id, node_result_view.c.name, node_result_view.c.resource_type)
        .where(node_result_view.c.run_pk.in_(latest))
        .where(sa.func.lower(node_result_view.c.unique_id).like(pattern))
        .distinct()
        .order_by(node_result_view.c.unique_id)
        .limit(limit)
    )
    return [tuple(r) for r in conn.execute(query)]
