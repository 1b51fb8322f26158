"""The HTML pages: Pipelines, Pipeline, Runs, Run, Nodes and Node history, rendered on the server.

Query parameters arrive as raw strings and are parsed in ``params`` so that a bad value reads as a
clear 400/404 page. Every page opens one read transaction and never writes.
"""
from __future__ import annotations

from typing import Optional

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from airflow_provider_databand_dbt.www import charts, params, queries, views
from airflow_provider_databand_dbt.www.errors import NotFound
from airflow_provider_databand_dbt.www.render import render, root_of
from airflow_provider_databand_dbt.www.urls import Urls, airflow_task_url

router = APIRouter(include_in_schema=False)

NODE_PAGE_SIZE = 100


def _urls(request: Request, conn) -> Urls:
    return Urls(root_of(request), qualify=views.several_accounts(conn))


def _choose(request: Request, urls: Urls, ambiguous: views.Ambiguous) -> Response:
    return render(request, "choose.html", status_code=300, urls=urls, what=ambiguous.what,
                  matches=ambiguous.matches)


@router.get("/")
@router.get("/pipelines")
def pipelines_page(request: Request, page: Optional[str] = None) -> Response:
    settings = request.app.state.settings
    with request.app.state.store.read() as conn:
        urls = _urls(request, conn)
        data = queries.list_pipelines(conn, page=params.page_number(page), page_size=settings.page_size)
    return render(request, "pipelines.html", urls=urls, data=data, window=queries.WINDOW)


@router.get("/pipelines/{job_id}")
def pipeline_page(
    request: Request,
    job_id: str,
    account: Optional[str] = None,
    host: Optional[str] = None,
    status: Optional[str] = None,
    since: Optional[str] = None,
    until: Optional[str] = None,
    page: Optional[str] = None,
) -> Response:
    settings = request.app.state.settings
    job = params.dbt_id(job_id, "pipeline")
    run_filter = params.run_filter(status, since, until)
    with request.app.state.store.read() as conn:
        urls = _urls(request, conn)
        try:
            row = views.resolve_pipeline(conn, job, account_id=params.optional_int(account, "account"), host=host)
        except views.Ambiguous as ambiguous:
            return _choose(request, urls, ambiguous)
        data = views.pipeline_view(conn, row, run_filter=run_filter, page=params.page_number(page),
                                   page_size=settings.page_size)
    p = data.pipeline
    chart = charts.trend_chart(
        data.trend, link=lambda point: urls.run(point.run_id, account_id=p.account_id, host=p.host)
    )
    return render(request, "pipeline.html", urls=urls, data=data, p=p, chart=chart, run_filter=run_filter,
                  statuses=params.RUN_STATUSES, window=queries.WINDOW)


@router.get("/runs")
def runs_page(
    request: Request,
    status: Optional[str] = None,
    since: Optional[str] = None,
    until: Optional[str] = None,
    page: Optional[str] = None,
) -> Response:
    settings = request.app.state.settings
    run_filter = params.run_filter(status, since, until)
    with request.app.state.store.read() as conn:
        urls = _urls(request, conn)
        data = queries.list_runs(conn, run_filter=run_filter, page=params.page_number(page),
                                 page_size=settings.page_size)
    return render(request, "runs.html", urls=urls, data=data, run_filter=run_filter,
                  statuses=params.RUN_STATUSES)


@router.get("/runs/{run_id}")
def run_page(
    request: Request,
    run_id: str,
    account: Optional[str] = None,
    host: Optional[str] = None,
    status: Optional[str] = None,
    type: Optional[str] = None,
    q: Optional[str] = None,
    step: Optional[str] = None,
    page: Optional[str] = None,
) -> Response:
    settings = request.app.state.settings
    wanted = params.dbt_id(run_id, "run")
    with request.app.state.store.read() as conn:
        urls = _urls(request, conn)
        try:
            run_pk = views.resolve_run(conn, wanted, account_id=params.optional_int(account, "account"), host=host)
        except views.Ambiguous as ambiguous:
            return _choose(request, urls, ambiguous)
        data = views.run_view(
            conn, run_pk, status=params.text(status), resource_type=params.text(type), search=params.text(q),
            step_index=params.optional_int(step, "step"), page=params.page_number(page),
            page_size=NODE_PAGE_SIZE,
            airflow_link=lambda source: airflow_task_url(settings.airflow_url, source),
        )
    run = data.run
    pipeline_url = (urls.pipeline(run.job_id, account_id=run.account_id, host=run.host)
                    if run.job_id else None)
    node_link = urls.node_link(job_id=run.job_id)
    timelines = [
        (step.step_index, charts.gantt(step.nodes, link=node_link), step.left_out,
         len(step.nodes) + step.left_out)
        for step in data.timeline
    ]
    return render(
        request, "run.html", urls=urls, run=run, nodes=data.nodes, lineage=data.lineage, timelines=timelines,
        pipeline_url=pipeline_url,
        filters={"status": params.text(status), "type": params.text(type), "q": params.text(q),
                 "step": params.optional_int(step, "step")},
    )


@router.get("/nodes")
def nodes_page(request: Request, unique_id: Optional[str] = None, q: Optional[str] = None) -> Response:
    if params.text(unique_id):
        return RedirectResponse(Urls(root_of(request)).node(unique_id.strip()), status_code=303)
    search = params.text(q)
    with request.app.state.store.read() as conn:
        urls = _urls(request, conn)
        found = queries.search_nodes(conn, search) if search else []
    return render(request, "nodes.html", urls=urls, q=search, found=found)


@router.get("/nodes/{unique_id:path}")
def node_page(
    request: Request,
    unique_id: str,
    job_id: Optional[str] = None,
    account: Optional[str] = None,
    host: Optional[str] = None,
    page: Optional[str] = None,
) -> Response:
    settings = request.app.state.settings
    job = params.optional_int(job_id, "job_id")
    with request.app.state.store.read() as conn:
        urls = _urls(request, conn)
        history = queries.node_history(
            conn, unique_id, job_id=job, account_id=params.optional_int(account, "account"), host=host,
            page=params.page_number(page), page_size=settings.page_size,
        )
    if not history.total:
        raise NotFound(
            f"No results for node {unique_id!r}" + (f" in runs of job {job}" if job else "")
            + " in this tracking store. Node ids look like model.my_project.orders; search them at /nodes.",
            title="Unknown node",
        )
    noun = "test" if history.resource_type in ("test", "unit_test") else history.resource_type or "node"
    chart = charts.trend_chart(
        history.chart, link=lambda point: urls.run(point.run_id, account_id=point.account_id, host=point.host)
    )
    return render(request, "node.html", urls=urls, h=history, chart=chart, noun=noun, job_id=job)
