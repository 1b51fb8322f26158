"""Read-only queries behind the Run page: header, steps, trackers, the node table, Gantt and lineage.

All node queries are bounded by ``run_pk`` and served by the ``(run_pk, status)`` and
``(run_pk, step_index, unique_id)`` indexes, so a run of thousands of nodes stays fast.
"""
from __future__ import annotations

from collections import defaultdict, deque
from typing import Callable, Iterator, Optional

import msgspec
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from airflow_provider_databand_dbt.model.report import ArtifactMissing, RereadFailure
from airflow_provider_databand_dbt.tracking.schema import node_result_view, runs, sources, steps
from airflow_provider_databand_dbt.model.status import NODE_FAILED, NODE_STATUS_RANK, NODE_STATUS_RANK_OTHER
from airflow_provider_databand_dbt.www.format import aware
from airflow_provider_databand_dbt.www.models import (
    FailureLineage,
    LineageNode,
    NodeRow,
    NodesPage,
    RunDetail,
    RunMatch,
    SourceRow,
    StepRow,
    TimedNode,
)
from airflow_provider_databand_dbt.www.streaming import rows as streamed_rows

MAX_LINEAGE_FAILURES = 50
# Bounds for runs of 100,000+ nodes: nodes listed per failure and direction, nodes visited per search.
MAX_LINEAGE_LIST = 100
MAX_LINEAGE_VISITS = 5_000

# Failures first, then what needs a look, then the rest: the order of the node table.
_STATUS_RANK = sa.case(
    *((node_result_view.c.status == status, rank) for status, rank in NODE_STATUS_RANK.items()),
    else_=NODE_STATUS_RANK_OTHER,
)


def find_runs(
    conn: Connection, run_id: int, *, account_id: Optional[int] = None, host: Optional[str] = None
) -> list[tuple[int, RunMatch]]:
    """``(run_pk, match)`` for every stored run with this dbt Cloud run id."""
    query = (
        sa.select(
            runs.c.id, runs.c.host, runs.c.account_id, runs.c.run_id, runs.c.job_id, runs.c.job_name,
            runs.c.status, runs.c.created_at,
        )
        .where(runs.c.run_id == run_id)
    )
    if account_id is not None:
        query = query.where(runs.c.account_id == account_id)
    if host:
        query = query.where(runs.c.host == host)
    return [
        (r.id, RunMatch(host=r.host, account_id=r.account_id, run_id=r.run_id, job_id=r.job_id,
                        job_name=r.job_name, status=r.status, created_at=aware(r.created_at)))
        for r in conn.execute(query.order_by(runs.c.host, runs.c.account_id))
    ]


def run_detail(
    conn: Connection, run_pk: int, *, airflow_link: Optional[Callable[[SourceRow], Optional[str]]] = None
) -> RunDetail:
    """The run with the names it ran under, its steps (with node counts per status) and trackers."""
    r = conn.execute(sa.select(runs).where(runs.c.id == run_pk)).one()
    counts: dict[int, dict[str, int]] = defaultdict(dict)
    for step_index, status, count in conn.execute(
        sa.select(node_result_view.c.step_index, node_result_view.c.status, sa.func.count())
        .where(node_result_view.c.run_pk == run_pk)
        .group_by(node_result_view.c.step_index, node_result_view.c.status)
    ):
        counts[step_index][status] = count
    step_rows = [
        StepRow(
            index=s.step_index, name=s.name, command=s.command, status=s.status,
            started_at=aware(s.started_at), finished_at=aware(s.finished_at),
            duration_seconds=s.duration_seconds,
            artifacts_missing=[_artifact_missing(item) for item in (s.artifacts_missing or [])],
            reread_failed=msgspec.convert(s.reread_failed, RereadFailure) if s.reread_failed else None,
            node_counts=counts.get(s.step_index, {}),
        )
        for s in conn.execute(sa.select(steps).where(steps.c.run_pk == run_pk).order_by(steps.c.step_index))
    ]
    source_rows = []
    for s in conn.execute(sa.select(sources).where(sources.c.run_pk == run_pk).order_by(sources.c.tracked_at)):
        row = SourceRow(
            kind=s.kind, name=s.name, dag_id=s.dag_id, task_id=s.task_id, airflow_run_id=s.airflow_run_id,
            try_number=s.try_number, map_index=s.map_index, hostname=s.hostname,
            tracked_at=aware(s.tracked_at),
        )
        if airflow_link is not None and row.kind == "airflow":
            row.airflow_url = airflow_link(row)
        source_rows.append(row)
    return RunDetail(
        host=r.host, account_id=r.account_id, run_id=r.run_id, job_id=r.job_id, job_name=r.job_name,
        project_id=r.project_id, project_name=r.project_name, environment_id=r.environment_id,
        environment_name=r.environment_name, status=r.status, status_message=r.status_message,
        trigger_cause=r.trigger_cause, git_branch=r.git_branch, git_sha=r.git_sha, dbt_version=r.dbt_version,
        created_at=aware(r.created_at), started_at=aware(r.started_at), finished_at=aware(r.finished_at),
        duration_seconds=r.duration_seconds, url=r.url, notes=list(r.notes or []), node_count=r.node_count or 0,
        summary=dict(r.summary or {}), collected_at=aware(r.collected_at), updated_at=aware(r.updated_at),
        steps=step_rows, sources=source_rows,
    )


def _artifact_missing(item) -> ArtifactMissing:
    if isinstance(item, dict):
        return ArtifactMissing(artifact=str(item.get("artifact", "?")), reason=str(item.get("reason", "")))
    return ArtifactMissing(artifact=str(item), reason="")


def nodes_page(
    conn: Connection,
    run_pk: int,
    *,
    status: Optional[str] = None,
    resource_type: Optional[str] = None,
    search: Optional[str] = None,
    step_index: Optional[int] = None,
    page: int = 1,
    page_size: int = 100,
) -> NodesPage:
    """Node results of a run, failures and warnings first, filtered and paged, with facet counts."""
    by_status: dict[str, int] = defaultdict(int)
    by_type: dict[str, int] = defaultdict(int)
    for node_status, node_type, count in conn.execute(
        sa.select(node_result_view.c.status, node_result_view.c.resource_type, sa.func.count())
        .where(node_result_view.c.run_pk == run_pk)
        .group_by(node_result_view.c.status, node_result_view.c.resource_type)
    ):
        by_status[node_status] += count
        by_type[node_type] += count
    where = [node_result_view.c.run_pk == run_pk]
    if status:
        where.append(node_result_view.c.status == status)
    if resource_type:
        where.append(node_result_view.c.resource_type == resource_type)
    if step_index is not None:
        where.append(node_result_view.c.step_index == step_index)
    if search:
        pattern = f"%{search.lower()}%"
        where.append(
            sa.or_(sa.func.lower(node_result_view.c.name).like(pattern),
                   sa.func.lower(node_result_view.c.unique_id).like(pattern))
        )
    total = conn.execute(sa.select(sa.func.count()).select_from(node_result_view).where(*where)).scalar_one()
    rows = conn.execute(
        sa.select(
            node_result_view.c.step_index, node_result_view.c.unique_id, node_result_view.c.name,
            node_result_view.c.resource_type, node_result_view.c.status, node_result_view.c.execution_time,
            node_result_view.c.rows_affected, node_result_view.c.message, node_result_view.c.failures,
            node_result_view.c.materialization, node_result_view.c.started_at, node_result_view.c.finished_at,
        )
        .where(*where)
        .order_by(_STATUS_RANK, node_result_view.c.step_index, node_result_view.c.name, node_result_view.c.unique_id)
        .limit(page_size)
        .offset((max(page, 1) - 1) * page_size)
    ).all()
    items = [
        NodeRow(
            step_index=n.step_index, unique_id=n.unique_id, name=n.name, resource_type=n.resource_type,
            status=n.status, execution_time=n.execution_time, rows_affected=n.rows_affected,
            message=n.message, failures=n.failures, materialization=n.materialization,
            started_at=aware(n.started_at), finished_at=aware(n.finished_at),
        )
        for n in rows
    ]
    return NodesPage(
        items=items, total=total, page=page, page_size=page_size,
        by_status=dict(sorted(by_status.items())), by_resource_type=dict(sorted(by_type.items())),
    )


def _epoch(conn: Connection, column) -> sa.ColumnElement:
    """A timestamp column as UTC epoch seconds, computed by the database (thousands of rows, no datetime objects)."""
    if conn.dialect.name == "sqlite":
        # The store keeps UTC text on SQLite; julianday() reads it, 2440587.5 is the Unix epoch.
        return (sa.func.julianday(sa.type_coerce(column, sa.Text)) - 2440587.5) * 86400.0
    return sa.extract("epoch", column)


def timed_nodes(conn: Connection, run_pk: int, *, per_step: Optional[int] = None, offset: int = 0,
                limit: Optional[int] = None) -> dict[int, tuple[list[TimedNode], int]]:
    """Node executions of the run with their timing, per step: ``{step_index: (nodes, left_out)}``.

    :param per_step: keep only the longest executions of each step (a Gantt of thousands of bars
        shows the long ones; the others are under a pixel wide), counting the ones left out.
    :param offset: skip this many executions (in step, then longest-first order), for paging.
    :param limit: return at most this many executions.
    """
    found: dict[int, tuple[list[TimedNode], int]] = {}
    for timed in iter_timed_nodes(conn, run_pk, offset=offset, limit=limit):
        nodes, left_out = found.setdefault(timed.step_index, ([], 0))
        if per_step is not None and len(nodes) >= per_step:
            found[timed.step_index] = (nodes, left_out + 1)
        else:
            nodes.append(timed)
    return found


def iter_timed_nodes(conn: Connection, run_pk: int, *, offset: int = 0,
                     limit: Optional[int] = None) -> Iterator[TimedNode]:
    """The executions of :func:`timed_nodes` one by one, step after step, longest first, read as used."""
    start, end = _epoch(conn, node_result_view.c.started_at), _epoch(conn, node_result_view.c.finished_at)
    query = (
        sa.select(
            node_result_view.c.step_index, node_result_view.c.unique_id, node_result_view.c.name,
            node_result_view.c.resource_type, node_result_view.c.status, start, end,
            node_result_view.c.execution_time, node_result_view.c.thread_id,
        )
        .where(node_result_view.c.run_pk == run_pk)
        .order_by(node_result_view.c.step_index, sa.func.coalesce(end - start, -1.0).desc(), node_result_view.c.unique_id)
        .offset(offset)
        .limit(limit)
    )
    for step_index, unique_id, name, resource_type, status, started, finished, seconds, thread in streamed_rows(conn, query):
        yield TimedNode(
            step_index=step_index, unique_id=unique_id, name=name, resource_type=resource_type,
            status=status, start=None if started is None else float(started),
            end=None if finished is None else float(finished), execution_time=seconds, thread_id=thread,
        )


def updated_at(conn: Connection, run_pk: int):
    """When the run was last tracked: changes whenever its results may have."""
    return conn.execute(sa.select(runs.c.updated_at).where(runs.c.id == run_pk)).scalar()


def count_nodes(conn: Connection, run_pk: int) -> int:
    """How many node results the run has (all steps)."""
    return conn.execute(
        sa.select(sa.func.count()).select_from(node_result_view).where(node_result_view.c.run_pk == run_pk)
    ).scalar_one()


def failure_lineage(conn: Connection, run_pk: int) -> list[FailureLineage]:
    """For each failed node: the failed nodes upstream of it and the skipped nodes downstream of it."""
    failed_count = conn.execute(
        sa.select(sa.func.count()).select_from(node_result_view)
        .where(node_result_view.c.run_pk == run_pk, node_result_view.c.status.in_(tuple(NODE_FAILED)))
    ).scalar_one()
    if not failed_count:
        return []
    # The whole graph of the run, kept as plain strings: thousands of nodes, so no objects per node.
    status_of: dict[str, str] = {}
    parents: dict[str, list[str]] = {}
    children: dict[str, list[str]] = defaultdict(list)
    graph = sa.select(
        node_result_view.c.unique_id, node_result_view.c.status, sa.type_coerce(node_result_view.c.depends_on, sa.Text),
    ).where(node_result_view.c.run_pk == run_pk).order_by(node_result_view.c.step_index)
    for unique_id, status, depends_on in conn.execute(graph):
        status_of[unique_id] = status  # a node seen in several steps keeps its latest step's outcome
        parents[unique_id] = _id_list(depends_on)
    for child, ups in parents.items():
        for parent in ups:
            children[parent].append(child)
    failed = sorted(uid for uid, status in status_of.items() if status in NODE_FAILED)[:MAX_LINEAGE_FAILURES]
    found = []
    for unique_id in failed:
        ups, ups_cut = _reachable(unique_id, parents)
        downs, downs_cut = _reachable(unique_id, children)
        upstream = sorted(u for u in ups if status_of.get(u) in NODE_FAILED)
        downstream = sorted(d for d in downs if status_of.get(d) == "skipped")
        found.append((unique_id, upstream, downstream, ups_cut or downs_cut))
    wanted = {
        listed for failure, ups, downs, _ in found
        for listed in (failure, *ups[:MAX_LINEAGE_LIST], *downs[:MAX_LINEAGE_LIST])
    }
    details = {
        r.unique_id: r
        for r in conn.execute(
            sa.select(node_result_view.c.unique_id, node_result_view.c.name, node_result_view.c.resource_type,
                      node_result_view.c.status, node_result_view.c.message)
            .where(node_result_view.c.run_pk == run_pk, node_result_view.c.unique_id.in_(sorted(wanted)))
            .order_by(node_result_view.c.step_index)
        )
    }

    def lineage_node(uid: str) -> LineageNode:
        row = details[uid]
        return LineageNode(unique_id=uid, name=row.name, resource_type=row.resource_type, status=status_of[uid])

    return [
        FailureLineage(
            node=lineage_node(uid), message=details[uid].message,
            failed_upstream=[lineage_node(u) for u in upstream[:MAX_LINEAGE_LIST]],
            skipped_downstream=[lineage_node(d) for d in downstream[:MAX_LINEAGE_LIST]],
            failed_upstream_total=len(upstream), skipped_downstream_total=len(downstream), truncated=cut,
        )
        for uid, upstream, downstream, cut in found
    ]


def _id_list(value) -> list[str]:
    """``depends_on`` as stored: JSON text on SQLite (read raw, it is faster), already a list from psycopg."""
    if isinstance(value, (str, bytes)):
        return msgspec.json.decode(value) if value and value != "[]" else []
    return list(value or ())


def _reachable(start: str, edges: dict[str, list[str]]) -> tuple[set[str], bool]:
    """Nodes reachable from ``start``, and whether the search stopped at ``MAX_LINEAGE_VISITS``."""
    seen: set[str] = set()
    queue = deque(edges.get(start, ()))
    while queue:
        if len(seen) >= MAX_LINEAGE_VISITS:
            return seen, True
        current = queue.popleft()
        if current in seen or current == start:
            continue
        seen.add(current)
        queue.extend(edges.get(current, ()))
    return seen, False
