"""A run's full report for the JSON API, one bounded page of nodes at a time.

A run can hold 100,000+ node results; building all of them for one request took 40 s and a GB per
request. ``/api/runs/{id}`` therefore returns the run and every step as before, with the nodes of
this page only (in their stored order), and a cursor to the next page. A run that fits in one page
answers exactly what it always did. The nodes are read and encoded while the answer is streamed.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Any, Iterator, Optional

import msgspec
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from airflow_provider_databand_dbt.model.report import NodeResult, RunHeader, RunReport, StepReport
from airflow_provider_databand_dbt.tracking.schema import node_result_view
from airflow_provider_databand_dbt.www.models import RunDetail
from airflow_provider_databand_dbt.www.streaming import placeholder, rows

DEFAULT_NODES_PER_PAGE = 5_000
MAX_NODES_PER_PAGE = 10_000
_NODE_FIELDS = NodeResult.__struct_fields__
_RUN_FIELDS = RunHeader.__struct_fields__


class ReportPage(msgspec.Struct, kw_only=True):
    """The report's JSON data for one page, and the cursor of the next page (None on the last one).

    ``data["steps"][i]["nodes"]`` is a placeholder for the array ``nodes[f"step-{i}"]``: the nodes
    are read from the store while the answer is streamed (``streaming.json_with_arrays``).
    """

    data: dict[str, Any]
    nodes: dict[str, Iterator[NodeResult]]
    next_cursor: Optional[int]


def report_page(conn: Connection, run_pk: int, detail: RunDetail, *, after: int = 0,
                limit: int = DEFAULT_NODES_PER_PAGE) -> ReportPage:
    """``RunReport.as_dict()`` of the run with the nodes stored after node ``after``, at most ``limit`` of them.

    Every step is listed on every page (with the nodes of this page that belong to it), so clients
    that concatenate ``steps[i].nodes`` over the pages get the whole run. ``summary`` always counts
    the whole run.
    """
    ids = conn.execute(
        sa.select(node_result_view.c.id)
        .where(node_result_view.c.run_pk == run_pk, node_result_view.c.id > after)
        .order_by(node_result_view.c.id)
        .limit(limit + 1)
    ).scalars().all()
    last = ids[limit - 1] if len(ids) > limit else None
    report = RunReport(
        **{name: getattr(detail, name) for name in _RUN_FIELDS},
        collected_at=detail.collected_at,
        steps=[
            StepReport(
                index=step.index, name=step.name, command=step.command, status=step.status,
                started_at=step.started_at, finished_at=step.finished_at, duration_seconds=step.duration_seconds,
                artifacts_missing=step.artifacts_missing,
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
    nodes = {}
    for position, (step, step_data) in enumerate(zip(detail.steps, data["steps"])):
        step_data["nodes"] = placeholder(f"step-{position}")
        nodes[f"step-{position}"] = _step_nodes(conn, run_pk, step.index, after, last)
    return ReportPage(data=data, nodes=nodes, next_cursor=last)


def _step_nodes(conn: Connection, run_pk: int, step_index: int, after: int,
                last: Optional[int]) -> Iterator[NodeResult]:
    """The step's nodes of this page, in stored order, read as they are sent."""
    query = (
        sa.select(*(node_result_view.c[name] for name in _NODE_FIELDS))
        .where(node_result_view.c.run_pk == run_pk, node_result_view.c.step_index == step_index,
               node_result_view.c.id > after, *(() if last is None else (node_result_view.c.id <= last,)))
        .order_by(node_result_view.c.id)
    )
    for row in rows(conn, query):
        values = row._mapping
        yield NodeResult(**{name: values[name] for name in _NODE_FIELDS})
