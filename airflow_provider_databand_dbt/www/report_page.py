"""A run's full report for the JSON API, one bounded page of nodes at a time.

A run can hold 100,000+ node results; building all of them for one request took 40 s and a GB per
request. ``/api/runs/{id}`` therefore returns the run and every step as before, with the nodes of
this page only (in their stored order), and a cursor to the next page. A run that fits in one page
answers exactly what it always did.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Any, Optional

import msgspec
import sqlalchemy as sa

from airflow_provider_databand_dbt.collector.report import NodeResult, RunHeader, RunReport, StepReport
from airflow_provider_databand_dbt.tracking.schema import node_results
from airflow_provider_databand_dbt.www.models import RunDetail

DEFAULT_NODES_PER_PAGE = 5_000
MAX_NODES_PER_PAGE = 10_000
_NODE_FIELDS = NodeResult.__struct_fields__
_RUN_FIELDS = RunHeader.__struct_fields__


class ReportPage(msgspec.Struct, kw_only=True):
    """The report's JSON data for one page, and the cursor of the next page (None on the last one)."""

    data: dict[str, Any]
    next_cursor: Optional[int]


def report_page(conn: sa.Connection, run_pk: int, detail: RunDetail, *, after: int = 0,
                limit: int = DEFAULT_NODES_PER_PAGE) -> ReportPage:
    """``RunReport.as_dict()`` of the run with the nodes stored after node ``after``, at most ``limit`` of them.

    Every step is listed on every page (with the nodes of this page that belong to it), so clients
    that concatenate ``steps[i].nodes`` over the pages get the whole run. ``summary`` always counts
    the whole run.
    """
    rows = conn.execute(
        sa.select(node_results.c.id, node_results.c.step_index, *(node_results.c[name] for name in _NODE_FIELDS))
        .where(node_results.c.run_pk == run_pk, node_results.c.id > after)
        .order_by(node_results.c.id)
        .limit(limit + 1)
    ).all()
    more = len(rows) > limit
    rows = rows[:limit]
    nodes_by_step: dict[int, list[NodeResult]] = defaultdict(list)
    for row in rows:
        values = row._mapping
        nodes_by_step[row.step_index].append(NodeResult(**{name: values[name] for name in _NODE_FIELDS}))
    report = RunReport(
        **{name: getattr(detail, name) for name in _RUN_FIELDS},
        collected_at=detail.collected_at,
        steps=[
            StepReport(
                index=step.index, name=step.name, command=step.command, status=step.status,
                started_at=step.started_at, finished_at=step.finished_at, duration_seconds=step.duration_seconds,
                artifacts_missing=step.artifacts_missing, nodes=nodes_by_step.get(step.index, []),
            )
            for step in detail.steps
        ],
    )
    data = report.as_dict()
    summary: dict[str, int] = defaultdict(int)
    for step in detail.steps:
        for status, count in step.node_counts.items():
            summary[status] += count
    data["summary"] = dict(summary)
    return ReportPage(data=data, next_cursor=rows[-1].id if more else None)
