"""What each page shows, gathered once and shared by the HTML pages and the JSON API.

Lookups by the ids people paste (job id, run id) raise :class:`NotFound` with a helpful message, or
:class:`Ambiguous` listing the matches when several hosts or accounts share the id.
"""

from __future__ import annotations

from typing import Callable, Optional

import msgspec

from airflow_provider_databand_dbt.tracking.read import Connection
from airflow_provider_databand_dbt.tracking.read import history as history_reader
from airflow_provider_databand_dbt.tracking.read import lineage as lineage_reader
from airflow_provider_databand_dbt.tracking.read import nodes as node_reader
from airflow_provider_databand_dbt.tracking.read import pipelines as pipeline_reader
from airflow_provider_databand_dbt.tracking.read import runs as run_reader
from airflow_provider_databand_dbt.tracking.read.filters import RunFilter
from airflow_provider_databand_dbt.tracking.read.models import (
    DurationPoint,
    FailureLineage,
    NodeHistory,
    NodesPage,
    PipelineSummary,
    RunDetail,
    RunsPage,
    SourceRow,
    TimedNode,
)
from airflow_provider_databand_dbt.www.errors import Ambiguous, NotFound
from airflow_provider_databand_dbt.www.params import NodeFilter, Paging, Ref
from airflow_provider_databand_dbt.www.run_cache import RunCache

TREND_RUNS = 100
# Bars per step on the run's Gantt: the longest executions; shorter ones would be under a pixel wide.
GANTT_BARS = 800


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


several_accounts = pipeline_reader.several_accounts
several_hosts = pipeline_reader.several_hosts


def resolve_pipeline(conn: Connection, ref: Ref):
    job_id, account_id, host = ref
    rows = pipeline_reader.find_pipelines(conn, job_id, account_id=account_id, host=host)
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
        summaries = pipeline_reader.summarize_pipelines(conn, rows)
        raise Ambiguous("pipelines", summaries)
    return rows[0]


def pipeline_view(conn: Connection, ref: Ref, run_filter: RunFilter, paging: Paging) -> PipelineView:
    """One pipeline: its summary, the duration trend of its newest runs and a page of its runs."""
    row = resolve_pipeline(conn, ref)
    summary = pipeline_reader.summarize_pipelines(conn, [row])[0]
    unfiltered = not run_filter
    return PipelineView(
        pipeline=summary,
        trend=pipeline_reader.recent_runs(conn, row.id, TREND_RUNS, run_filter),
        runs=run_reader.runs_page(
            conn,
            pipeline_pk=row.id,
            run_filter=run_filter,
            page=paging.page,
            page_size=paging.size,
            total=summary.run_count if unfiltered else None,
        ),
    )


def runs_page(conn: Connection, job: Ref, run_filter: RunFilter, paging: Paging) -> RunsPage:
    """Runs newest first, of one job when ``job.id`` is set, filtered and paged."""
    pipeline_pk = resolve_pipeline(conn, job).id if job.id is not None else None
    return run_reader.runs_page(
        conn, pipeline_pk=pipeline_pk, run_filter=run_filter, page=paging.page, page_size=paging.size
    )


def node_history(conn: Connection, unique_id: str, job: Ref, paging: Paging) -> NodeHistory:
    """One node across runs (of one job when ``job.id`` is set); unknown nodes are not found."""
    found = history_reader.node_history(
        conn,
        unique_id,
        job_id=job.id,
        account_id=job.account_id,
        host=job.host,
        page=paging.page,
        page_size=paging.size,
    )
    if not found.total:
        raise NotFound(
            f"No results for node {unique_id!r}"
            + (f" in runs of job {job.id}" if job.id else "")
            + " in this tracking store. Node ids look like model.my_project.orders; search them at /nodes.",
            title="Unknown node",
        )
    return found


def nodes_page(conn: Connection, run_pk: int, nodes: NodeFilter, paging: Paging) -> NodesPage:
    return node_reader.nodes_page(
        conn,
        run_pk,
        status=nodes.status,
        resource_type=nodes.resource_type,
        search=nodes.search,
        step_index=nodes.step_index,
        page=paging.page,
        page_size=paging.size,
    )


def resolve_run(conn: Connection, ref: Ref) -> int:
    run_id, account_id, host = ref
    found = run_reader.find_runs(conn, run_id, account_id=account_id, host=host)
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
    conn: Connection,
    ref: Ref,
    nodes: NodeFilter,
    paging: Paging,
    *,
    airflow_link: Optional[Callable[[SourceRow], Optional[str]]] = None,
    cache: Optional[RunCache] = None,
) -> RunView:
    run_pk = resolve_run(conn, ref)
    run = run_reader.run_detail(conn, run_pk, airflow_link=airflow_link)
    cache = cache or RunCache(0)

    def timeline() -> list[StepTimeline]:
        return [
            StepTimeline(step_index=index, nodes=nodes, left_out=left_out)
            for index, (nodes, left_out) in sorted(node_reader.timed_nodes(conn, run_pk, per_step=GANTT_BARS).items())
        ]

    return RunView(
        run=run,
        nodes=nodes_page(conn, run_pk, nodes, paging),
        lineage=cache.get((run_pk, run.updated_at, "lineage"), lambda: lineage_reader.failure_lineage(conn, run_pk)),
        timeline=cache.get((run_pk, run.updated_at, "gantt"), timeline),
    )


def failure_lineage(conn: Connection, ref: Ref, cache: Optional[RunCache] = None) -> list[FailureLineage]:
    """The run's failures with what failed upstream and what was skipped downstream (cached per run version)."""
    run_pk = resolve_run(conn, ref)
    key = (run_pk, run_reader.updated_at(conn, run_pk), "lineage")
    return (cache or RunCache(0)).get(key, lambda: lineage_reader.failure_lineage(conn, run_pk))
