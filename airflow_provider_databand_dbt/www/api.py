"""The JSON API behind the pages, under ``/api`` (documented in the README, section "Web view").

Same lookups and filters as the pages; unknown ids answer 404 ``{"detail": ...}``, ids shared by
several hosts or accounts answer 409 with the ``matches`` to choose from (pass ``account``/``host``).
"""
from __future__ import annotations

from typing import Any

import msgspec
from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from airflow_provider_databand_dbt.www import params, queries, run_queries, views
from airflow_provider_databand_dbt.www.errors import NotFound
from airflow_provider_databand_dbt.www.params import NodeFilter, Paging, Ref
from airflow_provider_databand_dbt.www.render import root_of
from airflow_provider_databand_dbt.www.urls import Urls, airflow_task_url

router = APIRouter(prefix="/api", tags=["databand-dbt"])


def _json(data: Any) -> Response:
    return Response(msgspec.json.encode(data), media_type="application/json")


@router.get("/health")
def health(request: Request) -> Response:
    """Whether the store can be read, and how many runs it holds."""
    handle = request.app.state.store
    with handle.read() as conn:
        count = queries.count_runs(conn)
    return _json({"status": "ok", "runs": count, "store": handle.public_url})


@router.get("/pipelines")
def api_pipelines(request: Request, paging: Paging = Depends(params.api_paging)) -> Response:
    """Pipelines (dbt Cloud jobs) with last run and health over their last 30 runs."""
    with request.app.state.store.read() as conn:
        return _json(queries.list_pipelines(conn, page=paging.page, page_size=paging.size))


@router.get("/pipelines/{job_id}")
def api_pipeline(
    request: Request,
    ref: Ref = Depends(params.pipeline_ref),
    run_filter: queries.RunFilter = Depends(params.run_filter),
    paging: Paging = Depends(params.api_paging),
) -> Response:
    """One pipeline: summary, duration trend of its newest runs, and a page of its runs."""
    with request.app.state.store.read() as conn:
        return _json(views.pipeline_view(conn, ref, run_filter, paging))


@router.get("/runs")
def api_runs(
    request: Request,
    job: Ref = Depends(params.job_ref),
    run_filter: queries.RunFilter = Depends(params.run_filter),
    paging: Paging = Depends(params.api_paging),
) -> Response:
    """Runs newest first, optionally of one job, filtered by status and UTC dates, paged."""
    with request.app.state.store.read() as conn:
        return _json(views.runs_page(conn, job, run_filter, paging))


@router.get("/runs/{run_id}")
def api_run(request: Request, ref: Ref = Depends(params.run_ref)) -> Response:
    """The full run report (``RunReport.as_dict()``: steps and every node) plus who tracked it."""
    handle = request.app.state.store
    settings = request.app.state.settings
    with handle.read() as conn:
        detail = run_queries.run_detail(
            conn, views.resolve_run(conn, ref),
            airflow_link=lambda source: airflow_task_url(settings.airflow_url, source),
        )
    report = handle.store.get_report(detail.run_id, account_id=detail.account_id, host=detail.host)
    if report is None:  # deleted between the two reads
        raise NotFound(f"Run {detail.run_id} is no longer in this tracking store.")
    data = report.as_dict()
    data["sources"] = msgspec.to_builtins(detail.sources)
    data["page_url"] = Urls(root_of(request), qualify=True).run(detail.run_id, account_id=detail.account_id,
                                                                host=detail.host)
    return _json(data)


@router.get("/runs/{run_id}/nodes")
def api_run_nodes(
    request: Request,
    ref: Ref = Depends(params.run_ref),
    nodes: NodeFilter = Depends(params.node_filter),
    paging: Paging = Depends(params.node_paging),
) -> Response:
    """A page of the run's node results, failures and warnings first, with counts per status and type."""
    with request.app.state.store.read() as conn:
        return _json(views.nodes_page(conn, views.resolve_run(conn, ref), nodes, paging))


@router.get("/runs/{run_id}/lineage")
def api_run_lineage(request: Request, ref: Ref = Depends(params.run_ref)) -> Response:
    """Each failed node with the failed nodes upstream of it and the nodes skipped downstream of it."""
    with request.app.state.store.read() as conn:
        return _json(run_queries.failure_lineage(conn, views.resolve_run(conn, ref)))


@router.get("/runs/{run_id}/timeline")
def api_run_timeline(request: Request, ref: Ref = Depends(params.run_ref)) -> Response:
    """Node executions with start/end times and dbt thread, grouped by step (the Gantt's data)."""
    with request.app.state.store.read() as conn:
        steps = run_queries.timed_nodes(conn, views.resolve_run(conn, ref))
    return _json([{"step_index": index, "nodes": nodes} for index, (nodes, _) in sorted(steps.items())])


@router.get("/nodes/{unique_id:path}")
def api_node(
    request: Request,
    unique_id: str,
    job: Ref = Depends(params.job_ref),
    paging: Paging = Depends(params.api_paging),
) -> Response:
    """One node across runs: newest results first, a trend verdict and the chart's points."""
    with request.app.state.store.read() as conn:
        return _json(views.node_history(conn, unique_id, job, paging))
