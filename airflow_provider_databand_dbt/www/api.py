"""The JSON API behind the pages, under ``/api`` (documented in docs/web.md).

Same lookups and filters as the pages; unknown ids answer 404 ``{"detail": ...}``, ids shared by
several hosts or accounts answer 409 with the ``matches`` to choose from (pass ``account``/``host``).
"""

from __future__ import annotations

from typing import Any, Optional

import msgspec
from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from airflow_provider_databand_dbt.tracking.read import Connection
from airflow_provider_databand_dbt.tracking.read import nodes as node_reader
from airflow_provider_databand_dbt.tracking.read import pipelines as pipeline_reader
from airflow_provider_databand_dbt.tracking.read import runs as run_reader
from airflow_provider_databand_dbt.tracking.read.filters import RunFilter
from airflow_provider_databand_dbt.tracking.read.report import report_page
from airflow_provider_databand_dbt.www import params, views
from airflow_provider_databand_dbt.www.limits import heavy_slot
from airflow_provider_databand_dbt.www.params import NodeFilter, NodeWindow, Paging, Ref
from airflow_provider_databand_dbt.www.render import page_url, root_of
from airflow_provider_databand_dbt.www.streaming import (
    json_groups,
    json_with_arrays,
    placeholder,
    read_connection,
    streamed_json,
)
from airflow_provider_databand_dbt.www.urls import Urls, airflow_task_url

router = APIRouter(prefix="/api", tags=["databand-dbt"])


def _json(data: Any, *, next_url: Optional[str] = None) -> Response:
    response = Response(msgspec.json.encode(data), media_type="application/json")
    if next_url:
        response.headers["Link"] = f'<{next_url}>; rel="next"'
    return response


@router.get("/health")
def health(request: Request) -> Response:
    """Whether the store can be read, and how many runs it holds."""
    handle = request.app.state.store
    with handle.read() as conn:
        count = run_reader.count_runs(conn)
    return _json({"status": "ok", "runs": count, "store": handle.public_url})


@router.get("/pipelines")
def api_pipelines(request: Request, paging: Paging = Depends(params.api_paging)) -> Response:
    """Pipelines (dbt Cloud jobs) with last run and health over their last 30 runs."""
    with request.app.state.store.read() as conn:
        return _json(pipeline_reader.list_pipelines(conn, page=paging.page, page_size=paging.size))


@router.get("/pipelines/{job_id}")
def api_pipeline(
    request: Request,
    ref: Ref = Depends(params.pipeline_ref),
    run_filter: RunFilter = Depends(params.run_filter),
    paging: Paging = Depends(params.api_paging),
) -> Response:
    """One pipeline: summary, duration trend of its newest runs, and a page of its runs."""
    with request.app.state.store.read() as conn:
        return _json(views.pipeline_view(conn, ref, run_filter, paging))


@router.get("/runs")
def api_runs(
    request: Request,
    job: Ref = Depends(params.job_ref),
    run_filter: RunFilter = Depends(params.run_filter),
    paging: Paging = Depends(params.api_paging),
) -> Response:
    """Runs newest first, optionally of one job, filtered by status and UTC dates, paged."""
    with request.app.state.store.read() as conn:
        return _json(views.runs_page(conn, job, run_filter, paging))


@router.get("/runs/{run_id}", dependencies=[Depends(heavy_slot)])
def api_run(
    request: Request,
    ref: Ref = Depends(params.run_ref),
    window: NodeWindow = Depends(params.node_window),
    conn: Connection = Depends(read_connection),
) -> Response:
    """The run report (``RunReport.as_dict()``) plus who tracked it, with at most ``limit`` nodes per page.

    Steps are always all listed; their ``nodes`` hold this page's share. ``next`` (also the ``Link:
    rel="next"`` header) is the address of the next page, null on the last one. The nodes are streamed.
    """
    settings = request.app.state.settings
    run_pk = views.resolve_run(conn, ref)
    detail = run_reader.run_detail(
        conn,
        run_pk,
        airflow_link=lambda source: airflow_task_url(settings.airflow_url, source),
    )
    page = report_page(conn, run_pk, detail, after=window.cursor, limit=window.limit, placeholder=placeholder)
    data = page.data
    data["sources"] = msgspec.to_builtins(detail.sources)
    data["triggered_by"] = msgspec.to_builtins(detail.triggered_by)
    data["retry_chain"] = msgspec.to_builtins(detail.retry_chain)
    data["page_url"] = Urls(root_of(request), qualify=True).run(
        detail.run_id, account_id=detail.account_id, host=detail.host
    )
    data["nodes_total"] = detail.node_count
    data["next"] = None if page.next_cursor is None else page_url(request, cursor=page.next_cursor, limit=window.limit)
    return streamed_json(json_with_arrays(data, page.nodes), next_url=data["next"])


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


@router.get("/runs/{run_id}/lineage", dependencies=[Depends(heavy_slot)])
def api_run_lineage(request: Request, ref: Ref = Depends(params.run_ref)) -> Response:
    """Each failed node with the failed nodes upstream of it and the nodes skipped downstream of it."""
    with request.app.state.store.read() as conn:
        return _json(views.failure_lineage(conn, ref, request.app.state.run_cache))


@router.get("/runs/{run_id}/timeline", dependencies=[Depends(heavy_slot)])
def api_run_timeline(
    request: Request,
    ref: Ref = Depends(params.run_ref),
    window: NodeWindow = Depends(params.node_window),
    conn: Connection = Depends(read_connection),
) -> Response:
    """Node executions with start/end times and dbt thread, grouped by step (the Gantt's data), paged:
    at most ``limit`` executions, the next page in the ``Link: rel="next"`` header. Streamed."""
    run_pk = views.resolve_run(conn, ref)
    total = node_reader.count_nodes(conn, run_pk)
    end = window.cursor + window.limit
    next_url = page_url(request, cursor=end, limit=window.limit) if end < total else None
    executions = node_reader.iter_timed_nodes(conn, run_pk, offset=window.cursor, limit=window.limit)
    return streamed_json(
        json_groups(executions, key="step_index", items_name="nodes"),
        next_url=next_url,
        headers={"X-Total-Count": str(total)},
    )


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
