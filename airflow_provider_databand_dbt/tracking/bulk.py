"""Writing a run's steps and node results in bulk: driver-level executemany with pre-encoded values, slim rows.

SQLAlchemy's per-value type processing and statement compilation were most of the time of a large
save, so ``_encoders`` produces the exact database values ``schema.UtcDateTime`` and ``sa.JSON``
would and the rows go to the DB-API's executemany as tuples; the round-trip tests read them back
through the typed table on both backends.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime, timezone
from typing import Any, Callable, Literal, Optional

import msgspec
from sqlalchemy.engine import Connection

from airflow_provider_databand_dbt.model.report import NodeResult, RunReport, StepReport
from airflow_provider_databand_dbt.tracking.definitions import DefinitionIds, definition_keys
from airflow_provider_databand_dbt.tracking.schema import node_results

log = logging.getLogger(__name__)

# Rows per executemany call: large enough to be fast, small enough to keep parameter lists modest.
INSERT_CHUNK_ROWS = 2000
NODE_COLUMNS = tuple(c.name for c in node_results.c if c.name != "id")
NODE_KEY = ("run_pk", "step_index", "node_id")
# What a node's results artifact says; the definition comes from the manifest.
NODE_RESULT_COLUMNS = (
    "status",
    "execution_time",
    "rows_affected",
    "message",
    "failures",
    "started_at",
    "finished_at",
    "thread_id",
)

# insert: a new run. replace: update stored nodes with everything the report says.
# results: update only what the results artifact says (the manifest could not be read this time).
NodeWrite = Literal["insert", "replace", "results"]


def write_nodes(conn: Connection, run_pk: int, scope: str, steps: list[StepReport], mode: NodeWrite = "insert") -> None:
    """Insert (or upsert, by step and node) the node results of ``steps``; never deletes a stored node.

    Definitions are looked up in bulk for the node's ``scope`` (see ``definitions.py``); only new ones are
    written, so an unchanged node costs one slim row.
    """
    marker = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    encode_time, encode_json = _encoders(conn.dialect.name)
    # Lists per step, never a tuple per node: 100,000s of objects alive make every pass of the garbage collector slow.
    per_step = [(step.index, _unique_nodes(step)) for step in steps]
    every_node = [node for _, step_nodes in per_step for node in step_nodes]
    keys = definition_keys(every_node)
    known = DefinitionIds(conn, scope, marker)
    known.complete(dict(zip(keys, every_node)), encode_time(datetime.now(timezone.utc)), encode_json)
    sql = node_write_sql(conn.dialect.paramstyle, mode)
    encode_times = _times_encoder(conn.dialect.name, encode_time)
    first = 0
    for index, step_nodes in per_step:
        for start in range(0, len(step_nodes), INSERT_CHUNK_ROWS):
            part = step_nodes[start : start + INSERT_CHUNK_ROWS]
            part_keys = keys[first + start : first + start + INSERT_CHUNK_ROWS]
            conn.exec_driver_sql(sql, _result_rows(run_pk, index, part, part_keys, known, encode_times))
        first += len(step_nodes)


def _result_rows(
    run_pk: int,
    step_index: int,
    nodes: list[NodeResult],
    keys: list[tuple[str, str]],
    known: DefinitionIds,
    encode_times: Callable[[list[Optional[datetime]]], list[Any]],
) -> list[tuple[Any, ...]]:
    """The rows of NODE_COLUMNS, built column by column and zipped (C loops rather than one tuple per node)."""
    node_ids, definition_ids = known.node_ids, known.definition_ids
    return list(
        zip(
            [run_pk] * len(nodes),
            [step_index] * len(nodes),
            [node_ids[unique_id] for unique_id, _ in keys],
            [definition_ids[key] for key in keys],
            [node.status for node in nodes],
            [node.execution_time for node in nodes],
            [node.rows_affected for node in nodes],
            [node.message for node in nodes],
            [node.failures for node in nodes],
            encode_times([node.started_at for node in nodes]),
            encode_times([node.finished_at for node in nodes]),
            [node.thread_id for node in nodes],
        )
    )


# A whole second without a fraction (msgspec leaves it out), and an offset other than UTC.
_WHOLE_SECOND = re.compile(rb'(T\d\d:\d\d:\d\d)(?=[Z"])')
_OFFSET = re.compile(rb"T[\d:.]*[+-]")


def _times_encoder(
    dialect: str, encode_time: Callable[[Optional[datetime]], Any]
) -> Callable[[list[Optional[datetime]]], list[Any]]:
    """Encode a column of timestamps; on SQLite in a few C calls when all are UTC or naive (what dbt writes)."""
    if dialect != "sqlite":
        return lambda values: [encode_time(value) for value in values]

    def encode_times(values: list[Optional[datetime]]) -> list[Any]:
        encoded = msgspec.json.encode(values)
        if _OFFSET.search(encoded):
            return [encode_time(value) for value in values]
        # "2026-11-20T08:00:01.123456Z" -> "2026-11-20 08:00:01.123456", exactly what encode_time gives.
        encoded = _WHOLE_SECOND.sub(rb"\1.000000", encoded).replace(b"T", b" ").replace(b"Z", b"")
        return msgspec.json.decode(encoded)

    return encode_times


def node_write_sql(paramstyle: str, mode: NodeWrite = "insert") -> str:
    """A plain driver-level INSERT into node_result, with ``ON CONFLICT ... DO UPDATE`` unless ``mode`` is insert.

    ``ON CONFLICT (cols) DO UPDATE SET col = excluded.col`` is the same text on SQLite (3.24+) and PostgreSQL.
    In ``results`` mode a stored node keeps its definition.
    """
    marker = "?" if paramstyle == "qmark" else "%s"
    sql = (
        f"INSERT INTO {node_results.name} ({', '.join(NODE_COLUMNS)}) "
        f"VALUES ({', '.join([marker] * len(NODE_COLUMNS))})"
    )
    if mode == "insert":
        return sql
    updated = NODE_RESULT_COLUMNS if mode == "results" else [c for c in NODE_COLUMNS if c not in NODE_KEY]
    assignments = ", ".join(f"{column} = excluded.{column}" for column in updated)
    return f"{sql} ON CONFLICT ({', '.join(NODE_KEY)}) DO UPDATE SET {assignments}"


def _encoders(dialect: str) -> tuple[Callable[[Optional[datetime]], Any], Callable[[Any], str]]:
    sqlite = dialect == "sqlite"

    def encode_time(value: Optional[datetime]) -> Any:
        if value is None:
            return None
        zone = value.tzinfo
        if zone is not timezone.utc and zone is not None:
            value = value.astimezone(timezone.utc) if value.utcoffset() else value.replace(tzinfo=timezone.utc)
        if sqlite:
            # SQLAlchemy's "YYYY-MM-DD HH:MM:SS.ffffff" text in UTC: the first 26 characters, without the offset.
            return value.isoformat(" ", "microseconds")[:26]
        return value if zone is not None else value.replace(tzinfo=timezone.utc)

    def encode_json(value: Any) -> str:
        return msgspec.json.encode(value).decode()

    return encode_time, encode_json


def unique_steps(report: RunReport) -> list[StepReport]:
    """The report's steps, each index once (the last one wins)."""
    by_index: dict[int, StepReport] = {}
    for step in report.steps:
        if step.index in by_index:
            log.warning("Run %s reports step %s twice; keeping the last one", report.run_id, step.index)
        by_index[step.index] = step
    return list(by_index.values())


def _unique_nodes(step: StepReport) -> list[NodeResult]:
    """The step's nodes, a node reported twice only by its last result."""
    seen: dict[str, int] = {node.unique_id: position for position, node in enumerate(step.nodes)}
    if len(seen) == len(step.nodes):
        return step.nodes
    log.warning("Step %s reports some nodes twice; keeping the last result of each", step.index)
    return [node for position, node in enumerate(step.nodes) if seen[node.unique_id] == position]


def step_row(run_pk: int, step: StepReport, reread_failed: Any = None) -> dict[str, Any]:
    """The step table's values for one step (``reread_failed`` as JSON-ready data, or None)."""
    return {
        "run_pk": run_pk,
        "step_index": step.index,
        "name": step.name,
        "command": step.command,
        "status": step.status,
        "started_at": step.started_at,
        "finished_at": step.finished_at,
        "duration_seconds": step.duration_seconds,
        "artifacts_missing": msgspec.to_builtins(step.artifacts_missing),
        "reread_failed": reread_failed,
    }
