"""What each page shows, gathered once and shared by the HTML pages and the JSON API.

Lookups by the ids people paste (job id, run id) raise :class:`NotFound` with a helpful message, or
:class:`Ambiguous` listing the matches when several hosts or accounts share the id.
"""
from __future__ import annotations

from typing import Callable, Optional

import msgspec
import sqlalchemy as sa

from airflow_provider_databand_dbt.tracking.schema import pipelines
from airflow_provider_databand_dbt.www import queries, run_queries
from airflow_provider_databand_dbt.www.errors import NotFound
from airflow_provider_databand_dbt.www.models import (
    DurationPoint,
    FailureLineage,
    NodesPage,
    PipelineSummary,
    RunDetail,
    RunsPage,
    SourceRow,
    TimedNode,
)

TREND_RUNS = 100
# Bars per step on the run's Gantt: the longest executions; shorter ones would be under a pixel wide.
GANTT_BARS = 800


class Ambiguous(Exception):
    """Several stored pipelines or runs answer to one id; the page lists them to choose from."""

    def __init__(self, what: str, matches: list) -> None:
        super().__init__(f"{len(matches)} {what} share this id")
        self.what = what
        self.matches = matches


class PipelineView(msgspec.Struct, kw_only=True):
    pipeline: PipelineSummary
    trend: list[DurationPoint]
    runs: RunsPage


class StepTimeline(msgspec.Struct, kw_only=True):
    step_index: int
    nodes: list[TimedNode]
    left_out: int = 0


class RunView(msgspec.Struct, kw_only=True):
    run: RunDetail
    nodes: NodesPage
    lineage: list[FailureLineage]
    timeline: list[StepTimeline]


def several_accounts(conn: sa.Connection) -> bool:
    """True when pipelines from more than one (host, account) are stored: links must then say which."""
    pairs = sa.select(pipelines.c.host, pipelines.c.account_id).distinct().limit(2).subquery()
    return conn.execute(sa.select(sa.func.count()).select_from(pairs)).scalar_one() > 1


def resolve_pipeline(conn: sa.Connection, job_id: int, *, account_id: Optional[int], host: Optional[str]):
    rows = queries.find_pipelines(conn, job_id, account_id=account_id, host=host)
    if not rows:
        qualifier = "".join(
            [f" in account {account_id}" if account_id is not None else "", f" on {host}" if host else ""]
        )
        raise NotFound(
            f"No pipeline for dbt Cloud job {job_id}{qualifier} in this tracking store. "
            "A pipeline appears once one of its runs has been collected (by Airflow, the monitor or "
            "`databand-dbt collect`).",
            title="Unknown pipeline",
        )
    if len(rows) > 1:
        summaries = queries.summarize_pipelines(conn, rows)
        raise Ambiguous("pipelines", summaries)
    return rows[0]


def pipeline_view(
    conn: sa.Connection,
    row,
    *,
    run_filter: queries.RunFilter,
    page: int,
    page_size: int,
) -> PipelineView:
    summary = queries.summarize_pipelines(conn, [row])[0]
    return PipelineView(
        pipeline=summary,
        trend=queries.recent_runs(conn, row.id, TREND_RUNS, run_filter),
        runs=queries.list_runs(conn, pipeline_pk=row.id, run_filter=run_filter, page=page, page_size=page_size),
    )


def resolve_run(conn: sa.Connection, run_id: int, *, account_id: Optional[int], host: Optional[str]) -> int:
    found = run_queries.find_runs(conn, run_id, account_id=account_id, host=host)
    if not found:
        raise NotFound(
            f"Run {run_id} is not in this tracking store. Collect it with "
            f"`databand-dbt collect --account-id ACCOUNT --run-id {run_id}`, or check that this view reads "
            "the same store as your trackers.",
            title="Unknown run",
        )
    if len(found) > 1:
        raise Ambiguous("runs", [match for _, match in found])
    return found[0][0]


def run_view(
    conn: sa.Connection,
    run_pk: int,
    *,
    status: Optional[str],
    resource_type: Optional[str],
    search: Optional[str],
    step_index: Optional[int],
    page: int,
    page_size: int,
    airflow_link: Optional[Callable[[SourceRow], Optional[str]]] = None,
) -> RunView:
    timeline = [
        StepTimeline(step_index=index, nodes=nodes, left_out=left_out)
        for index, (nodes, left_out) in sorted(run_queries.timed_nodes(conn, run_pk, per_step=GANTT_BARS).items())
    ]
    return RunView(
        run=run_queries.run_detail(conn, run_pk, airflow_link=airflow_link),
        nodes=run_queries.nodes_page(
            conn, run_pk, status=status, resource_type=resource_type, search=search, step_index=step_index,
            page=page, page_size=page_size,
        ),
        lineage=run_queries.failure_lineage(conn, run_pk),
        timeline=timeline,
    )
