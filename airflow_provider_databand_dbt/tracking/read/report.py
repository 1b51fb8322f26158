"""A run's report as saved: whole (``TrackingStore.get_report``) or one bounded page of nodes (JSON API).

A run can hold 100,000+ node results; building all of them for one request took 40 s and a GB per
request. ``/api/runs/{id}`` therefore returns the run and every step, with the nodes of this page only
(in their stored order) and a cursor to the next page. The nodes are read while the answer is streamed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from typing import Any, Optional

import msgspec
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from airflow_provider_databand_dbt.model.report import NodeResult, RunHeader, RunReport, StepReport
from airflow_provider_databand_dbt.tracking.read import nodes
from airflow_provider_databand_dbt.tracking.read.columns import columns, field_names
from airflow_provider_databand_dbt.tracking.read.models import RunDetail
from airflow_provider_databand_dbt.tracking.read.runs import artifacts_missing, reread_failed, step_rows
from airflow_provider_databand_dbt.tracking.schema import runs

DEFAULT_NODES_PER_PAGE = 5_000
MAX_NODES_PER_PAGE = 10_000
_RUN_FIELDS = field_names(RunHeader)


def load_report(conn: Connection, run_pk: int) -> RunReport:
    """Rebuild the RunReport that was saved for a run, steps and nodes in their original order."""
    run = conn.execute(sa.select(*columns(runs, RunReport, skip=("steps", "lineage"))).where(runs.c.id == run_pk)).one()
    by_step: dict[int, list[NodeResult]] = defaultdict(list)
    for step_index, result in nodes.results(conn, run_pk):
        by_step[step_index].append(result)
    step_reports = [
        StepReport(
            index=row.step_index,
            name=row.name,
            command=row.command,
            status=row.status,
            started_at=row.started_at,
            finished_at=row.finished_at,
            duration_seconds=row.duration_seconds,
            artifacts_missing=artifacts_missing(row.artifacts_missing),
            reread_failed=reread_failed(row.reread_failed),
            nodes=by_step.get(row.step_index, []),
        )
        for row in step_rows(conn, run_pk)
    ]
    values = dict(run._mapping)
    values["notes"] = list(values["notes"] or [])
    return RunReport(**values, steps=step_reports)


class ReportPage(msgspec.Struct, kw_only=True):
    """The report's JSON data for one page, and the cursor of the next page (None on the last one).

    ``data["steps"][i]["nodes"]`` is the key ``f"step-{i}"`` of ``nodes``, the step's nodes of this
    page read as they are sent; ``www.streaming.json_with_arrays`` puts them in place.
    """

    data: dict[str, Any]
    nodes: dict[str, Iterator[NodeResult]]
    next_cursor: Optional[int]


def report_page(
    conn: Connection,
    run_pk: int,
    detail: RunDetail,
    *,
    after: int = 0,
    limit: int = DEFAULT_NODES_PER_PAGE,
    placeholder=str,
) -> ReportPage:
    """``RunReport.as_dict()`` of the run with the nodes stored after node ``after``, at most ``limit`` of them.

    Every step is listed on every page (with the nodes of this page that belong to it), so clients
    that concatenate ``steps[i].nodes`` over the pages get the whole run. ``summary`` always counts
    the whole run. ``placeholder(name)`` is what stands in the data for the array ``name``.
    """
    last = nodes.page_bounds(conn, run_pk, after=after, limit=limit)
    report = RunReport(
        **{name: getattr(detail, name) for name in _RUN_FIELDS},
        collected_at=detail.collected_at,
        steps=[
            StepReport(
                index=step.index,
                name=step.name,
                command=step.command,
                status=step.status,
                started_at=step.started_at,
                finished_at=step.finished_at,
                duration_seconds=step.duration_seconds,
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
    arrays: dict[str, Iterator[NodeResult]] = {}
    for position, (step, step_data) in enumerate(zip(detail.steps, data["steps"])):
        step_data["nodes"] = placeholder(f"step-{position}")
        arrays[f"step-{position}"] = (
            result for _, result in nodes.results(conn, run_pk, step_index=step.index, after=after, last=last)
        )
    return ReportPage(data=data, nodes=arrays, next_cursor=last)
