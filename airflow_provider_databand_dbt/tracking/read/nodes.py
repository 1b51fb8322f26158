"""Every query of the reader on node results (the table whose layout store v2 changes): one place to adapt.

All per-run queries are bounded by ``run_pk`` and served by the ``(run_pk, step_index, node_id)`` index
(r0013 dropped ``(run_pk, status)``: a save kept it for every result, and no query needed it); a node
across runs by ``(node_id, run_pk)``.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Iterator
from typing import Optional

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from airflow_provider_databand_dbt.model.report import NodeResult
from airflow_provider_databand_dbt.model.status import NODE_FAILED, NODE_STATUS_RANK, NODE_STATUS_RANK_OTHER
from airflow_provider_databand_dbt.tracking.read.columns import build, columns, field_names, streamed
from airflow_provider_databand_dbt.tracking.read.models import NodeRow, NodeRun, NodesPage, TimedNode
from airflow_provider_databand_dbt.tracking.rows import NodeHistoryRow
from airflow_provider_databand_dbt.tracking.schema import (
    node_definitions,
    node_result_view,
    node_results,
    nodes,
    pipelines,
    runs,
)

# Store v2: results with their node's unique_id and definition, under the v1 column names.
view = node_result_view

# Failures first, then what needs a look, then the rest: the order of the node table.
_STATUS_RANK = sa.case(
    *((view.c.status == status, rank) for status, rank in NODE_STATUS_RANK.items()),
    else_=NODE_STATUS_RANK_OTHER,
)
_NEWEST_RUN_FIRST = (runs.c.created_at.desc(), runs.c.run_id.desc())
_RESULT_FIELDS = field_names(NodeResult)
# What a node's history reads of each result (NodeRun's result fields; its name and type come from the definition).
_HISTORY_RESULT_COLUMNS = (
    "definition_id",
    *(name for name in field_names(NodeRun) if name in node_results.c and name not in ("name", "resource_type")),
)


def status_counts_by_step(conn: Connection, run_pk: int) -> dict[int, dict[str, int]]:
    """``{step_index: {status: nodes}}`` of a run."""
    counts: dict[int, dict[str, int]] = defaultdict(dict)
    for step_index, status, count in conn.execute(
        sa.select(node_results.c.step_index, node_results.c.status, sa.func.count())
        .where(node_results.c.run_pk == run_pk)
        .group_by(node_results.c.step_index, node_results.c.status)
    ):
        counts[step_index][status] = count
    return counts


def count_nodes(conn: Connection, run_pk: int) -> int:
    """How many node results the run has (all steps)."""
    return conn.execute(
        sa.select(sa.func.count()).select_from(node_results).where(node_results.c.run_pk == run_pk)
    ).scalar_one()


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
        sa.select(view.c.status, view.c.resource_type, sa.func.count())
        .where(view.c.run_pk == run_pk)
        .group_by(view.c.status, view.c.resource_type)
    ):
        by_status[node_status] += count
        by_type[node_type] += count
    where = [view.c.run_pk == run_pk]
    for column, value in (
        (view.c.status, status or None),
        (view.c.resource_type, resource_type or None),
        (view.c.step_index, step_index),
    ):
        if value is not None:
            where.append(column == value)
    if search:
        pattern = f"%{search.lower()}%"
        where.append(sa.or_(sa.func.lower(view.c.name).like(pattern), sa.func.lower(view.c.unique_id).like(pattern)))
    total = conn.execute(sa.select(sa.func.count()).select_from(view).where(*where)).scalar_one()
    query = (
        sa.select(*columns(view, NodeRow))
        .where(*where)
        .order_by(_STATUS_RANK, view.c.step_index, view.c.name, view.c.unique_id)
        .limit(page_size)
        .offset((max(page, 1) - 1) * page_size)
    )
    return NodesPage(
        items=[build(NodeRow, row) for row in conn.execute(query)],
        total=total,
        page=page,
        page_size=page_size,
        by_status=dict(sorted(by_status.items())),
        by_resource_type=dict(sorted(by_type.items())),
    )


def _epoch(conn: Connection, column) -> sa.ColumnElement:
    """A timestamp column as UTC epoch seconds, computed by the database (thousands of rows, no datetime objects)."""
    if conn.dialect.name == "sqlite":
        # The store keeps UTC text on SQLite; julianday() reads it, 2440587.5 is the Unix epoch.
        return (sa.func.julianday(sa.type_coerce(column, sa.Text)) - 2440587.5) * 86400.0
    return sa.extract("epoch", column)


def iter_timed_nodes(
    conn: Connection, run_pk: int, *, offset: int = 0, limit: Optional[int] = None
) -> Iterator[TimedNode]:
    """Node executions of the run with their timing, step after step, longest first, read as used."""
    start, end = _epoch(conn, view.c.started_at), _epoch(conn, view.c.finished_at)
    query = (
        sa.select(*columns(view, TimedNode, renamed={"start": start, "end": end}))
        .where(view.c.run_pk == run_pk)
        .order_by(view.c.step_index, sa.func.coalesce(end - start, -1.0).desc(), view.c.unique_id)
        .offset(offset)
        .limit(limit)
    )
    for row in streamed(conn, query):
        timed = build(TimedNode, row)
        timed.start = None if timed.start is None else float(timed.start)
        timed.end = None if timed.end is None else float(timed.end)
        yield timed


def timed_nodes(
    conn: Connection, run_pk: int, *, per_step: Optional[int] = None, offset: int = 0, limit: Optional[int] = None
) -> dict[int, tuple[list[TimedNode], int]]:
    """:func:`iter_timed_nodes` per step: ``{step_index: (nodes, left_out)}``.

    :param per_step: keep only the longest executions of each step (a Gantt of thousands of bars
        shows the long ones; the others are under a pixel wide), counting the ones left out.
    """
    found: dict[int, tuple[list[TimedNode], int]] = {}
    for timed in iter_timed_nodes(conn, run_pk, offset=offset, limit=limit):
        kept, left_out = found.setdefault(timed.step_index, ([], 0))
        if per_step is not None and len(kept) >= per_step:
            found[timed.step_index] = (kept, left_out + 1)
        else:
            kept.append(timed)
    return found


def failed_count(conn: Connection, run_pk: int) -> int:
    return conn.execute(
        sa.select(sa.func.count())
        .select_from(node_results)
        .where(node_results.c.run_pk == run_pk, node_results.c.status.in_(tuple(NODE_FAILED)))
    ).scalar_one()


def dependency_graph(conn: Connection, run_pk: int) -> Iterator[tuple[str, str, object]]:
    """``(unique_id, status, depends_on)`` of every node result, step after step; ``depends_on`` as stored
    (JSON text on SQLite, read raw as it is faster; a list from psycopg)."""
    yield from conn.execute(
        sa.select(view.c.unique_id, view.c.status, sa.type_coerce(view.c.depends_on, sa.Text))
        .where(view.c.run_pk == run_pk)
        .order_by(view.c.step_index)
    )


def node_details(conn: Connection, run_pk: int, unique_ids: list[str]) -> dict[str, sa.Row]:
    """``unique_id -> row(name, resource_type, status, message)`` of the run (its latest step wins)."""
    return {
        row.unique_id: row
        for row in conn.execute(
            sa.select(view.c.unique_id, view.c.name, view.c.resource_type, view.c.status, view.c.message)
            .where(view.c.run_pk == run_pk, view.c.unique_id.in_(sorted(unique_ids)))
            .order_by(view.c.step_index)
        )
    }


def _run_clauses(job_id: Optional[int], account_id: Optional[int], host: Optional[str]) -> list[sa.ColumnElement]:
    given = ((runs.c.job_id, job_id), (runs.c.account_id, account_id), (runs.c.host, host or None))
    return [column == value for column, value in given if value is not None]


def _with_runs(dialect: str, results: sa.FromClause) -> sa.FromClause:
    """``results`` joined to their runs."""
    # SQLite: "+ 0" keeps it from reaching runs by primary key, so it walks runs newest first and stops at the page
    # (a node has one id per pipeline; it would otherwise sort all of the node's results).
    run_pk = runs.c.id + 0 if dialect == "sqlite" else runs.c.id
    return results.join(runs, run_pk == node_results.c.run_pk)


def count_history(
    conn: Connection,
    unique_id: str,
    *,
    job_id: Optional[int] = None,
    account_id: Optional[int] = None,
    host: Optional[str] = None,
) -> int:
    """How many results of the node the store holds (of one job, account or host when given)."""
    where = [nodes.c.unique_id == unique_id, *_run_clauses(job_id, account_id, host)]
    node_rows = node_results.join(nodes, nodes.c.id == node_results.c.node_id)
    # Without run filters the count reads the node's (node_id, ...) index entries alone: 17x less than with the join.
    counted = _with_runs(conn.dialect.name, node_rows) if len(where) > 1 else node_rows
    return conn.execute(sa.select(sa.func.count()).select_from(counted).where(*where)).scalar_one()


def history(
    conn: Connection,
    unique_id: str,
    *,
    job_id: Optional[int] = None,
    account_id: Optional[int] = None,
    host: Optional[str] = None,
    limit: int,
    offset: int = 0,
) -> list[NodeRun]:
    """The node's results, newest run first (every step of each run, last step first).

    Names come from the definitions of the rows returned only: sorting all of a node's runs reads none.
    """
    node_ids = conn.execute(sa.select(nodes.c.id).where(nodes.c.unique_id == unique_id)).scalars().all()
    if not node_ids:
        return []
    given = (("job_id", job_id), ("account_id", account_id), ("host", host or None))
    filters = {name: value for name, value in given if value is not None}
    query = _history_query(conn.dialect.name, tuple(filters))
    rows = conn.execute(query, {"node_ids": sorted(node_ids), **filters, "limit": limit, "offset": offset}).all()
    names = _definition_names(conn, {row.definition_id for row in rows})
    return [
        build(
            NodeRun,
            row,
            skip=("definition_id",),
            name=names[row.definition_id][0],
            resource_type=names[row.definition_id][1],
        )
        for row in rows
    ]


@functools.lru_cache(maxsize=16)
def _history_query(dialect: str, filters: tuple[str, ...]) -> sa.Select:
    """The results of nodes ``node_ids`` (one per pipeline holding the unique_id), newest run first; built once.

    Runs are walked newest first and the nodes looked up in each (the ``(node_id, run_pk)`` index), so the walk
    stops at the page: it costs the same however long the history. On PostgreSQL each run's results are a
    LATERAL subquery (``OFFSET 0`` keeps it from being flattened): as a join, the planner compared each run
    walked with all the node's results, a cost that grew with the store.
    """
    node_ids: sa.BindParameter[int] = sa.bindparam("node_ids", expanding=True)
    results: sa.FromClause
    walked: sa.FromClause
    where: list[sa.ColumnElement[bool]]
    if dialect == "postgresql":
        results = (
            sa.select(*(node_results.c[name] for name in _HISTORY_RESULT_COLUMNS))
            .where(node_results.c.node_id.in_(node_ids), node_results.c.run_pk == runs.c.id)
            .offset(0)
            .lateral()
        )
        walked, where = runs.join(results, sa.true()), []
    else:
        results, walked = node_results, _with_runs(dialect, node_results)
        where = [node_results.c.node_id.in_(node_ids)]
    run_fields = {"run_id", "host", "account_id", "job_id", "job_name"}
    renamed = {"run_status": runs.c.status, "run_created_at": runs.c.created_at, **{f: runs.c[f] for f in run_fields}}
    return (
        sa.select(results.c.definition_id, *columns(results, NodeRun, skip=("name", "resource_type"), renamed=renamed))
        .select_from(walked)
        .where(*where, *(runs.c[name] == sa.bindparam(name) for name in filters))
        .order_by(*_NEWEST_RUN_FIRST, results.c.step_index.desc())
        .limit(sa.bindparam("limit"))
        .offset(sa.bindparam("offset"))
    )


def _definition_names(conn: Connection, definition_ids: set[int]) -> dict[int, tuple[str, str]]:
    """``{definition id: (name, resource_type)}`` for the given definitions."""
    if not definition_ids:
        return {}
    query = sa.select(node_definitions.c.id, node_definitions.c.name, node_definitions.c.resource_type).where(
        node_definitions.c.id.in_(sorted(definition_ids))
    )
    return {row.id: (row.name, row.resource_type) for row in conn.execute(query)}


def history_rows(conn: Connection, unique_id: str, *, job_id: Optional[int], limit: int) -> list[NodeHistoryRow]:
    """A node's result per run (its last step in that run), newest run first: ``TrackingStore.node_history``."""
    other = node_results.alias("same_node")
    last_step = (
        sa.select(sa.func.max(other.c.step_index))
        .where((other.c.node_id == view.c.node_id) & (other.c.run_pk == view.c.run_pk))
        .correlate(view)
        .scalar_subquery()
    )
    run_fields = {"host", "account_id", "run_id", "job_id"}
    renamed = {"run_status": runs.c.status, "run_created_at": runs.c.created_at, **{f: runs.c[f] for f in run_fields}}
    query = (
        sa.select(*columns(view, NodeHistoryRow, renamed=renamed))
        .select_from(view.join(runs, runs.c.id == view.c.run_pk))
        .where(
            view.c.unique_id == unique_id,
            view.c.step_index == last_step,
            *(() if job_id is None else (runs.c.job_id == job_id,)),
        )
        .order_by(*_NEWEST_RUN_FIRST, runs.c.id.desc())
        .limit(max(0, int(limit)))
    )
    return [build(NodeHistoryRow, row) for row in conn.execute(query)]


def search_nodes(conn: Connection, text: str, *, limit: int = 50) -> list[tuple[str, str, str]]:
    """``(unique_id, name, resource_type)`` of nodes matching ``text`` in the latest run of each pipeline.

    Searching only the latest runs keeps this on the ``run_pk`` index instead of scanning every result;
    the latest runs are found with one index step per pipeline (and one for runs without a pipeline).
    """
    newest = sa.select(runs.c.id).order_by(*_NEWEST_RUN_FIRST).limit(1)
    per_pipeline = sa.select(
        newest.where(runs.c.pipeline_id == pipelines.c.id).correlate(pipelines).scalar_subquery()
    ).select_from(pipelines)
    latest = [pk for pk in conn.execute(per_pipeline).scalars() if pk is not None]
    latest += conn.execute(newest.where(runs.c.pipeline_id.is_(None))).scalars().all()
    query = (
        sa.select(view.c.unique_id, view.c.name, view.c.resource_type)
        .where(view.c.run_pk.in_(latest), sa.func.lower(view.c.unique_id).like(f"%{text.lower()}%"))
        .distinct()
        .order_by(view.c.unique_id)
        .limit(limit)
    )
    return [tuple(row) for row in conn.execute(query)]


def page_bounds(conn: Connection, run_pk: int, *, after: int, limit: int) -> Optional[int]:
    """The cursor of the page after this one (the last result id of this page), None on the last page."""
    ids = (
        conn.execute(
            sa.select(node_results.c.id)
            .where(node_results.c.run_pk == run_pk, node_results.c.id > after)
            .order_by(node_results.c.id)
            .limit(limit + 1)
        )
        .scalars()
        .all()
    )
    return ids[limit - 1] if len(ids) > limit else None


def results(
    conn: Connection, run_pk: int, *, step_index: Optional[int] = None, after: int = 0, last: Optional[int] = None
) -> Iterator[tuple[int, NodeResult]]:
    """``(step_index, result)`` of the run in stored order, optionally of one step and a cursor range, streamed."""
    where = [view.c.run_pk == run_pk, view.c.id > after]
    if step_index is not None:
        where.append(view.c.step_index == step_index)
    if last is not None:
        where.append(view.c.id <= last)
    query = (
        sa.select(view.c.step_index.label("step_of_result"), *columns(view, NodeResult))
        .where(*where)
        .order_by(view.c.id)
    )
    for row in streamed(conn, query):
        values = row._mapping
        yield row[0], NodeResult(**{name: values[name] for name in _RESULT_FIELDS})
