"""Alert incidents: the Incidents page, and the incidents of one pipeline or one node.

Incidents are written by the alert rules (``alerts/incidents.py``); this module only reads them,
newest activity first, each with the pipeline (dbt Cloud job) it belongs to.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal, Optional

import msgspec
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from airflow_provider_databand_dbt.tracking.read.columns import build
from airflow_provider_databand_dbt.tracking.read.runs import offset_of
from airflow_provider_databand_dbt.tracking.schema import alert_incidents, pipelines

IncidentState = Literal["open", "resolved"]


class Incident(msgspec.Struct, kw_only=True):
    """One incident of an alert rule on a pipeline (run-level when ``node_unique_id`` is None)."""

    id: int
    rule: str
    status: str
    severity: str
    title: str
    message: Optional[str] = None
    host: str
    account_id: int
    job_id: int
    job_name: Optional[str] = None
    node_unique_id: Optional[str] = None
    node_name: Optional[str] = None
    resource_type: Optional[str] = None
    first_run_id: int
    last_run_id: int
    resolved_run_id: Optional[int] = None
    occurrences: int
    opened_at: datetime
    updated_at: datetime
    resolved_at: Optional[datetime] = None


class IncidentsPage(msgspec.Struct, kw_only=True):
    """A page of incidents (open ones first, then by latest activity) and how many are open in all."""

    items: list[Incident]
    total: int
    open_count: int
    page: int = 1
    page_size: int = 50


_COLUMNS = (
    *(alert_incidents.c[name] for name in Incident.__struct_fields__ if name in alert_incidents.c),
    pipelines.c.host,
    pipelines.c.account_id,
    pipelines.c.job_id,
    pipelines.c.name.label("job_name"),
)


def _clauses(
    *,
    status: Optional[IncidentState],
    job_id: Optional[int],
    account_id: Optional[int],
    host: Optional[str],
    node_unique_id: Optional[str],
) -> list[sa.ColumnElement]:
    clauses: list[sa.ColumnElement] = []
    if status is not None:
        clauses.append(alert_incidents.c.status == status)
    if job_id is not None:
        clauses.append(pipelines.c.job_id == job_id)
    if account_id is not None:
        clauses.append(pipelines.c.account_id == account_id)
    if host is not None:
        clauses.append(pipelines.c.host == host)
    if node_unique_id is not None:
        clauses.append(alert_incidents.c.node_unique_id == node_unique_id)
    return clauses


def list_incidents(
    conn: Connection,
    *,
    status: Optional[IncidentState] = None,
    job_id: Optional[int] = None,
    account_id: Optional[int] = None,
    host: Optional[str] = None,
    node_unique_id: Optional[str] = None,
    page: int = 1,
    page_size: int = 50,
) -> IncidentsPage:
    """Incidents matching the filters, open ones first, then newest activity first.

    :param status: ``open``, ``resolved`` or None for both.
    :param job_id: only this pipeline's (with ``account_id`` / ``host`` to narrow further).
    :param node_unique_id: only this node's.
    """
    clauses = _clauses(status=status, job_id=job_id, account_id=account_id, host=host, node_unique_id=node_unique_id)
    joined = alert_incidents.join(pipelines, pipelines.c.id == alert_incidents.c.pipeline_id)
    total = conn.execute(sa.select(sa.func.count()).select_from(joined).where(*clauses)).scalar_one()
    open_count = conn.execute(
        sa.select(sa.func.count()).select_from(joined).where(*clauses, alert_incidents.c.open_key.is_not(None))
    ).scalar_one()
    rows = conn.execute(
        sa.select(*_COLUMNS)
        .select_from(joined)
        .where(*clauses)
        .order_by(
            sa.case((alert_incidents.c.status == "open", 0), else_=1),
            alert_incidents.c.updated_at.desc(),
            alert_incidents.c.id.desc(),
        )
        .limit(page_size)
        .offset(offset_of(page, page_size))
    )
    return IncidentsPage(
        items=[build(Incident, row) for row in rows],
        total=total,
        open_count=open_count,
        page=page,
        page_size=page_size,
    )
