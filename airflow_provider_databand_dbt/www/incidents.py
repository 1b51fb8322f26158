"""The Incidents page and ``/api/incidents``: open and recent alert incidents, read through ``tracking/read``.

Filters: ``status`` (``open``, ``resolved``; empty for both), ``job_id`` (with ``account``/``host``),
``node`` (a unique id). Open incidents come first, then the most recently active.
"""

from __future__ import annotations

from typing import Optional

import msgspec
from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from airflow_provider_databand_dbt.tracking.read import incidents as incident_reader
from airflow_provider_databand_dbt.www import params, views
from airflow_provider_databand_dbt.www.errors import BadRequest
from airflow_provider_databand_dbt.www.params import Paging, Ref
from airflow_provider_databand_dbt.www.render import render, root_of
from airflow_provider_databand_dbt.www.urls import Urls

STATES = ("open", "resolved")

pages = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api", tags=["databand-dbt"])


def incident_state(status: Optional[str] = None) -> Optional[str]:
    """``?status=open|resolved``; empty means both."""
    if not status:
        return None
    if status not in STATES:
        raise BadRequest(f"status must be one of {', '.join(STATES)}, not {status!r}.")
    return status


def _read(request: Request, status: Optional[str], job: Ref, node: Optional[str], paging: Paging):
    with request.app.state.store.read() as conn:
        page = incident_reader.list_incidents(
            conn,
            status=status,  # type: ignore[arg-type] - checked by incident_state
            job_id=job.id,
            account_id=job.account_id,
            host=job.host,
            node_unique_id=params.text(node, 1024),
            page=paging.page,
            page_size=paging.size,
        )
        qualify = views.several_accounts(conn)
    return page, qualify


@pages.get("/incidents")
def incidents_page(
    request: Request,
    status: Optional[str] = Depends(incident_state),
    job: Ref = Depends(params.job_ref),
    node: Optional[str] = None,
    paging: Paging = Depends(params.page_paging),
) -> Response:
    data, qualify = _read(request, status, job, node, paging)
    return render(
        request,
        "incidents.html",
        urls=Urls(root_of(request), qualify=qualify),
        data=data,
        status=status,
        states=STATES,
        job_id=job.id,
        node=params.text(node, 1024),
    )


@api.get("/incidents")
def api_incidents(
    request: Request,
    status: Optional[str] = Depends(incident_state),
    job: Ref = Depends(params.job_ref),
    node: Optional[str] = None,
    paging: Paging = Depends(params.api_paging),
) -> Response:
    """Alert incidents, open first then newest activity, filtered by ``status``, ``job_id`` and ``node``, paged."""
    data, _ = _read(request, status, job, node, paging)
    return Response(msgspec.json.encode(data), media_type="application/json")
