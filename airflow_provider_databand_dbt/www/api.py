"""The JSON API behind the pages, under ``/api`` (documented in the README, section "Web view").

Same lookups and filters as the pages; unknown ids answer 404 ``{"detail": ...}``, ids shared by
several hosts or accounts answer 409 with the ``matches`` to choose from (pass ``account``/``host``).
"""
from __future__ import annotations

from typing import Any, Optional

import msgspec
from fastapi import APIRouter, Request
from fastapi.responses import Response

from airflow_provider_databand_dbt.www import params, queries, run_queries, views
from airflow_provider_databand_dbt.www.errors import NotFound
from airflow_provider_databand_dbt.www.render import root_of
from airflow_provider_databand_dbt.www.urls import Urls, airflow_task_url

router = APIRouter(prefix="/api", tags=["databand-dbt"])


def _json(data: Any, status_code: int = 200) -> Response:
    return Response(msgspec.json.encode(data), status_code=status_code, media_type="application/json")


def _ambiguous(ambiguous: views.Ambiguous) -> Response:
    return _json(
        {"detail": f"several {ambiguous.what} share this id: pass account and host", "matches": ambiguous.matches},
        status_code=409,
    )


@router.get("/health")
def health(request: Request) -> Response:
    """Whether the store can be read, and how many runs it holds."""
    handle = request.app.state.store
    with handle.read() as conn:
        count = queries.count_runs(conn)
    return _json({"status": "ok", "runs": count, "store": handle.display_url})


@router.get("/pipelines")
def api_pipelines(request: Request, page: Optional[str] = None, page_size: Optional[str] = None) -> Response:
    """Pipelines (dbt Cloud jobs) with last run and health over their last 30 runs."""
    size = params.page_size(page_size, request.app.state.settings.page_size)
    with request.app.state.store.read() as conn:
        return _json(queries.list_pipelines(conn, page=params.page_number(page), page_size=size))


@router.get("/pipelines/{job_id}")
def api_pipeline(
    request: Request,
    job_id: str,
    account: Optional[str] = None,
    host: Optional[str] = None,
    status: Optional[str] = None,
    since: Optional[str] = None,
    until: Optional[str] = None,
    page: Optional[str] = None,
    page_size: Optional[str] = None,
) -> Response:
    """One pipeline: summary, duration trend of its newest runs, and a page of its runs."""
    run_filter = params.run_filter(status, since, until)
    size = params.page_size(page_size, request.app.state.settings.page_size)
    with request.app.state.store.read() as conn:
        try:
            row = views.resolve_pipeline(conn, params.dbt_id(job_id, "pipeline"),
                                         account_id=params.optional_int(account, "account"), host=host)
        except views.Ambiguous as ambiguous:
            return _ambiguous(ambiguous)
        return _json(views.pipeline_view(conn, row, run_filter=run_filter, page=params.page_number(page),
                                         page_size=size))


@router.get("/runs")
def api_runs(
    request: Request,
    job_id: Optional[str] = None,
    account: Optional[str] = None,
    host: Optional[str] = None,
    status: Optional[str] = None,
    since: Optional[str] = None,
    until: Optional[str] = None,
    page: Optional[str] = None,
    page_size: Optional[str] = None,
) -> Response:
    """Runs newest first, optionally of one job, filtered by status and UTC dates, paged."""
    run_filter = params.run_filter(status, since, until)
    size = params.page_size(page_size, request.app.state.settings.page_size)
    with request.app.state.store.read() as conn:
        pipeline_pk = None
        job = params.optional_int(job_id, "job_id")
        if job is not None:
            try:
                pipeline_pk = views.resolve_pipeline(
                    conn, job, account_id=params.optional_int(account, "account"), host=host
                ).id
            except views.Ambiguous as ambiguous:
                return _ambiguous(ambiguous)
        return _json(queries.list_runs(conn, pipeline_pk=pipeline_pk, run_filter=run_filter,
                                       page=params.page_number(page), page_size=size))


def _resolve_run(request: Request, conn, run_id: str, account: Optional[str], host: Optional[str]) -> int:
    return views.resolve_run(conn, params.dbt_id(run_id, "run"),
                             account_id=params.optional_int(account, "account"), host=host)


@router.get("/runs/{run_id}")
def api_run(request: Request, run_id: str, account: Optional[str] = None, host: Optional[str] = None) -> Response:
    """The full run report (``RunReport.as_dict()``: steps and every node) plus who tracked it."""
    handle = request.app.state.store
    settings = request.app.state.settings
    with handle.read() as conn:
        try:
            run_pk = _resolve_run(request, conn, run_id, account, host)
        except views.Ambiguous as ambiguous:
            return _ambiguous(ambiguous)
        detail = run_queries.run_detail(
            conn, run_pk, airflow_link=lambda source: airflow_task_url(settings.airflow_url, source)
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
    run_id: str,
    account: Optional[str] = None,
    host: Optional[str] = None,
    status: Optional[str] = None,
    type: Optional[str] = None,
    q: Optional[str] = None,
    step: Optional[str] = None,
    page: Optional[str] = None,
    page_size: Optional[str] = None,
) -> Response:
    """A page of the run's node results, failures and warnings first, with counts per status and type."""
    size = params.page_size(page_size, 100)
    with request.app.state.store.read() as conn:
        try:
            run_pk = _resolve_run(request, conn, run_id, account, host)
        except views.Ambiguous as ambiguous:
            return _ambiguous(ambiguous)
        return _json(run_queries.nodes_page(
            conn, run_pk, status=params.text(status), resource_type=params.text(type), search=params.text(q),
            step_index=params.optional_int(step, "step"), page=params.page_number(page), page_size=size,
        ))


@router.get("/runs/{run_id}/lineage")
def api_run_lineage(request: Request, run_id: str, account: Optional[str] = None,
                    host: Optional[str] = None) -> Response:
    """Each failed node with the failed nodes upstream of it and the nodes skipped downstream of it."""
    with request.app.state.store.read() as conn:
        try:
            run_pk = _resolve_run(request, conn, run_id, account, host)
        except views.Ambiguous as ambiguous:
            return _ambiguous(ambiguous)
        return _json(run_queries.failure_lineage(conn, run_pk))


@router.get("/runs/{run_id}/timeline")
def api_run_timeline(request: Request, run_id: str, account: Optional[str] = None,
                     host: Optional[str] = None) -> Response:
    """Node executions with start/end times and dbt thread, grouped by step (the Gantt's data)."""
    with request.app.state.store.read() as conn:
        try:
            run_pk = _resolve_run(request, conn, run_id, account, host)
        except views.Ambiguous as ambiguous:
            return _ambiguous(ambiguous)
        steps = run_queries.timed_nodes(conn, run_pk)
    return _json([{"step_index": index, "nodes": nodes} for index, (nodes, _) in sorted(steps.items())])


@router.get("/nodes/{unique_id:path}")
def api_node(
    request: Request,
    unique_id: str,
    job_id: Optional[str] = None,
    account: Optional[str] = None,
    host: Optional[str] = None,
    page: Optional[str] = None,
    page_size: Optional[str] = None,
) -> Response:
    """One node across runs: newest results first, a trend verdict and the chart's points."""
    size = params.page_size(page_size, request.app.state.settings.page_size)
    with request.app.state.store.read() as conn:
        history = queries.node_history(
            conn, unique_id, job_id=params.optional_int(job_id, "job_id"),
            account_id=params.optional_int(account, "account"), host=host,
            page=params.page_number(page), page_size=size,
        )
    if not history.total:
        raise NotFound(f"No results for node {unique_id!r} in this tracking store.")
    return _json(history)
