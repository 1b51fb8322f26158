"""The HTML pages: Pipelines, Pipeline, Runs, Run, Nodes and Node history, rendered on the server.

Query parameters arrive as raw strings and are parsed in ``params`` so that a bad value reads as a
clear 400/404 page. Every page opens one read transaction and never writes.
"""

from __future__ import annotations

from typing import Optional

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from airflow_provider_databand_dbt.tracking.read import nodes as node_reader
from airflow_provider_databand_dbt.tracking.read import pipelines as pipeline_reader
from airflow_provider_databand_dbt.tracking.read import runs as run_reader
from airflow_provider_databand_dbt.tracking.read.filters import RunFilter
from airflow_provider_databand_dbt.tracking.read.incidents import list_incidents
from airflow_provider_databand_dbt.www import charts, params, views
from airflow_provider_databand_dbt.www.limits import heavy_slot
from airflow_provider_databand_dbt.www.params import NodeFilter, Paging, Ref
from airflow_provider_databand_dbt.www.render import render, root_of
from airflow_provider_databand_dbt.www.urls import Urls, airflow_task_url

router = APIRouter(include_in_schema=False)
BOX_SIZE = 10
"""Incidents shown on a pipeline's or a node's page; the Incidents page lists the rest."""


def _urls(request: Request, conn) -> Urls:
    return Urls(root_of(request), qualify=views.several_accounts(conn))


@router.get("/")
@router.get("/pipelines")
def pipelines_page(request: Request, paging: Paging = Depends(params.page_paging)) -> Response:
    with request.app.state.store.read() as conn:
        urls = _urls(request, conn)
        data = pipeline_reader.list_pipelines(conn, page=paging.page, page_size=paging.size)
        show_host = views.several_hosts(conn)
    return render(request, "pipelines.html", urls=urls, data=data, window=pipeline_reader.WINDOW, show_host=show_host)


@router.get("/pipelines/{job_id}")
def pipeline_page(
    request: Request,
    ref: Ref = Depends(params.pipeline_ref),
    run_filter: RunFilter = Depends(params.run_filter),
    paging: Paging = Depends(params.page_paging),
) -> Response:
    with request.app.state.store.read() as conn:
        urls = _urls(request, conn)
        data = views.pipeline_view(conn, ref, run_filter, paging)
        p = data.pipeline
        incidents = list_incidents(conn, job_id=p.job_id, account_id=p.account_id, host=p.host, page_size=BOX_SIZE)
    chart = charts.trend_chart(
        data.trend, link=lambda point: urls.run(point.run_id, account_id=p.account_id, host=p.host)
    )
    return render(
        request,
        "pipeline.html",
        urls=urls,
        data=data,
        p=p,
        chart=chart,
        run_filter=run_filter,
        statuses=params.RUN_STATUSES,
        window=pipeline_reader.WINDOW,
        incidents=incidents,
    )


@router.get("/runs")
def runs_page(
    request: Request,
    run_filter: RunFilter = Depends(params.run_filter),
    paging: Paging = Depends(params.page_paging),
) -> Response:
    with request.app.state.store.read() as conn:
        urls = _urls(request, conn)
        data = run_reader.runs_page(conn, run_filter=run_filter, page=paging.page, page_size=paging.size)
        show_host = views.several_hosts(conn)
    return render(
        request,
        "runs.html",
        urls=urls,
        data=data,
        run_filter=run_filter,
        statuses=params.RUN_STATUSES,
        show_host=show_host,
    )


@router.get("/runs/{run_id}", dependencies=[Depends(heavy_slot)])
def run_page(
    request: Request,
    ref: Ref = Depends(params.run_ref),
    nodes: NodeFilter = Depends(params.node_filter),
    page: Optional[str] = None,
) -> Response:
    settings = request.app.state.settings
    with request.app.state.store.read() as conn:
        urls = _urls(request, conn)
        data = views.run_view(
            conn,
            ref,
            nodes,
            Paging(params.page_number(page), params.NODE_PAGE_SIZE),
            airflow_link=lambda source: airflow_task_url(settings.airflow_url, source),
            cache=request.app.state.run_cache,
        )
    run = data.run
    pipeline_url = urls.pipeline(run.job_id, account_id=run.account_id, host=run.host) if run.job_id else None
    node_link = urls.node_link(job_id=run.job_id)
    timelines = [
        (step.step_index, charts.gantt(step.nodes, link=node_link), step.left_out, len(step.nodes) + step.left_out)
        for step in data.timeline
    ]
    return render(
        request,
        "run.html",
        urls=urls,
        run=run,
        nodes=data.nodes,
        lineage=data.lineage,
        timelines=timelines,
        pipeline_url=pipeline_url,
        filters={"status": nodes.status, "type": nodes.resource_type, "q": nodes.search, "step": nodes.step_index},
    )


@router.get("/nodes")
def nodes_page(request: Request, unique_id: Optional[str] = None, q: Optional[str] = None) -> Response:
    if params.text(unique_id):
        return RedirectResponse(Urls(root_of(request)).node(unique_id.strip()), status_code=303)
    search = params.text(q)
    with request.app.state.store.read() as conn:
        urls = _urls(request, conn)
        found = node_reader.search_nodes(conn, search) if search else []
    return render(request, "nodes.html", urls=urls, q=search, found=found)


@router.get("/nodes/{unique_id:path}")
def node_page(
    request: Request,
    unique_id: str,
    job: Ref = Depends(params.job_ref),
    paging: Paging = Depends(params.page_paging),
) -> Response:
    with request.app.state.store.read() as conn:
        urls = _urls(request, conn)
        history = views.node_history(conn, unique_id, job, paging)
        incidents = list_incidents(
            conn, node_unique_id=unique_id, job_id=job.id, account_id=job.account_id, host=job.host, page_size=BOX_SIZE
        )
    noun = "test" if history.resource_type in ("test", "unit_test") else history.resource_type or "node"
    chart = charts.trend_chart(
        history.chart, link=lambda point: urls.run(point.run_id, account_id=point.account_id, host=point.host)
    )
    return render(
        request, "node.html", urls=urls, h=history, chart=chart, noun=noun, job_id=job.id, incidents=incidents
    )
