"""Nodes and their definitions, stored once per pipeline: find the known ones in bulk, insert only new ones.

A node is a dbt unique_id within a scope (the run's pipeline, or the run itself when it has no job).
A definition is one version of its manifest fields, keyed by a hash of all of them, so a result of an
unchanged node costs one dictionary lookup. New nodes and definitions are inserted with
``ON CONFLICT DO NOTHING`` and read back, so concurrent saves of two runs of one pipeline never fail
on the same new node; on PostgreSQL in sorted order, so they never deadlock over it either. On SQLite
the ids of the new rows are known without reading the scope back, when they are certain (``_insert``). SQLite has
one writer at a time, so there they go in the order the run reported them: the ids then follow the
order its result rows are written in, and every index of those rows grows at its end instead of at
random places (a third of the time of a pipeline's first save).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any, Callable, Optional

import msgspec
from sqlalchemy.engine import Connection

from airflow_provider_databand_dbt.model.report import NodeResult
from airflow_provider_databand_dbt.tracking.schema import node_definitions, nodes

# The definition's columns, in the order of the hashed tuple (every NodeResult field the manifest gives).
DEFINITION_FIELDS = (
    "name",
    "resource_type",
    "package_name",
    "materialization",
    "tags",
    "depends_on",
    "code_hash",
    "database",
    "schema",
    "alias",
)
CHUNK_ROWS = 2000

DefinitionKey = tuple[str, str]  # (unique_id, definition_hash)


def node_scope(pipeline_id: Optional[int], run_pk: int) -> str:
    """Where a node's identity lives: its pipeline, or the run itself when the run has no job."""
    return f"pipeline:{pipeline_id}" if pipeline_id is not None else f"run:{run_pk}"


def definition_hash(node: NodeResult) -> str:
    """A hash of every definition field: equal exactly when the stored definition can be reused."""
    return _digest(definition_fields(node))


def definition_fields(node: NodeResult) -> tuple[Any, ...]:
    """The values of DEFINITION_FIELDS, in that order (spelled out: this runs once per node result)."""
    return (
        node.name,
        node.resource_type,
        node.package_name,
        node.materialization,
        node.tags,
        node.depends_on,
        node.code_hash,
        node.database,
        node.schema,
        node.alias,
    )


def _digest(fields: tuple[Any, ...]) -> str:
    return hashlib.blake2b(msgspec.json.encode(fields), digest_size=16).hexdigest()


def definition_keys(nodes: Iterable[NodeResult]) -> list[DefinitionKey]:
    """``(unique_id, definition_hash)`` of each node, each distinct definition of a node hashed once.

    A node reported by several steps of a run is usually the same manifest entry each time (the same
    objects), which a tuple comparison confirms without encoding and hashing it again.
    """
    known: dict[str, tuple[NodeResult, DefinitionKey]] = {}
    keys = []
    for node in nodes:
        seen = known.get(node.unique_id)
        if seen is None or (seen[0] is not node and definition_fields(seen[0]) != definition_fields(node)):
            seen = known[node.unique_id] = (node, (node.unique_id, _digest(definition_fields(node))))
        keys.append(seen[1])
    return keys


class DefinitionIds:
    """The ids of a scope's nodes and definitions, completed with the ones a save needs."""

    def __init__(self, conn: Connection, scope: str, marker: str) -> None:
        self.conn, self.scope, self.marker = conn, scope, marker
        self.node_ids: dict[str, int] = {}
        self.definition_ids: dict[DefinitionKey, int] = {}
        self._load()

    def _load(self) -> None:
        sql = (
            f"SELECT n.unique_id, n.id, d.definition_hash, d.id FROM {nodes.name} n "
            f"LEFT JOIN {node_definitions.name} d ON d.node_id = n.id WHERE n.scope = {self.marker}"
        )
        for unique_id, node_id, digest, definition_id in self.conn.exec_driver_sql(sql, (self.scope,)):
            self.node_ids[unique_id] = node_id
            if definition_id is not None:
                self.definition_ids[(unique_id, digest)] = definition_id

    def _load_nodes(self) -> None:
        sql = f"SELECT unique_id, id FROM {nodes.name} WHERE scope = {self.marker}"
        self.node_ids.update(iter(self.conn.exec_driver_sql(sql, (self.scope,))))  # rows, not a mapping

    def _load_definitions(self) -> None:
        sql = (
            f"SELECT n.unique_id, d.definition_hash, d.id FROM {node_definitions.name} d "
            f"JOIN {nodes.name} n ON n.id = d.node_id WHERE n.scope = {self.marker}"
        )
        self.definition_ids.update(
            ((unique_id, digest), definition_id)
            for unique_id, digest, definition_id in self.conn.exec_driver_sql(sql, (self.scope,))
        )

    def complete(self, wanted: dict[DefinitionKey, NodeResult], now: Any, encode_json: Callable[[Any], str]) -> None:
        """Insert the nodes and definitions of ``wanted`` the store lacks, then know all their ids."""
        in_order = sorted if self.conn.dialect.name != "sqlite" else list
        missing_nodes = in_order(dict.fromkeys(uid for uid, _ in wanted if uid not in self.node_ids))
        if missing_nodes:
            rows = ((self.scope, uid) for uid in missing_nodes)
            ids = self._insert(nodes.name, ("scope", "unique_id"), rows, len(missing_nodes))
            node_ends = ((self.scope, missing_nodes[0]), (self.scope, missing_nodes[-1]))
            if ids is not None and self._ends_match(f"SELECT scope, unique_id FROM {nodes.name}", ids, node_ends):
                self.node_ids.update(zip(missing_nodes, ids))
            else:
                self._load_nodes()
        missing = in_order(key for key in wanted if key not in self.definition_ids)
        if missing:
            columns = ("node_id", "definition_hash", *_quoted(self.conn, DEFINITION_FIELDS), "first_seen_at")
            rows = (
                (self.node_ids[uid], digest, *_definition_values(wanted[(uid, digest)], encode_json), now)
                for uid, digest in missing
            )
            ids = self._insert(node_definitions.name, columns, rows, len(missing))
            definition_ends = tuple((self.node_ids[uid], digest) for uid, digest in (missing[0], missing[-1]))
            if ids is not None and self._ends_match(
                f"SELECT node_id, definition_hash FROM {node_definitions.name}", ids, definition_ends
            ):
                self.definition_ids.update(zip(missing, ids))
            else:
                self._load_definitions()

    def _insert(
        self, table: str, columns: tuple[str, ...], rows: Iterable[tuple[Any, ...]], count: int
    ) -> Optional[range]:
        """Insert ``rows``; on SQLite the ids they got, in order, when that is certain (else None: read them back).

        A save holds SQLite's write lock (``BEGIN IMMEDIATE``), and SQLite numbers a new row one past the
        table's largest id. So when exactly ``count`` rows lie above the largest id from before, in one
        unbroken range, they are ours in the order inserted. A row that already existed (``DO NOTHING``)
        leaves the count short, and the caller reads the ids back as PostgreSQL always does.
        """
        sqlite = self.conn.dialect.name == "sqlite"
        before = self.conn.exec_driver_sql(f"SELECT coalesce(max(id), 0) FROM {table}").scalar_one() if sqlite else 0
        sql = (
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join([self.marker] * len(columns))}) "
            "ON CONFLICT DO NOTHING"
        )
        for chunk in _chunks(rows):
            self.conn.exec_driver_sql(sql, chunk)
        if not sqlite:
            return None
        low, high, inserted = self.conn.exec_driver_sql(
            f"SELECT min(id), max(id), count(*) FROM {table} WHERE id > ?", (before,)
        ).one()
        if inserted != count or high - low + 1 != count:
            return None
        return range(low, high + 1)

    def _ends_match(self, select: str, ids: range, ends: tuple[tuple[Any, ...], ...]) -> bool:
        """Whether the first and last of ``ids`` hold the first and last row inserted (a cheap cross-check)."""
        sql = f"{select} WHERE id = {self.marker}"
        return all(
            tuple(self.conn.exec_driver_sql(sql, (row_id,)).one()) == expected
            for row_id, expected in zip((ids[0], ids[-1]), ends)
        )


def _definition_values(node: NodeResult, encode_json: Callable[[Any], str]) -> tuple[Any, ...]:
    """The values of DEFINITION_FIELDS, in that order (spelled out: this runs once per new definition)."""
    return (
        node.name,
        node.resource_type,
        node.package_name,
        node.materialization,
        encode_json(node.tags),
        encode_json(node.depends_on),
        node.code_hash,
        node.database,
        node.schema,
        node.alias,
    )


def _quoted(conn: Connection, names: Iterable[str]) -> tuple[str, ...]:
    quote = conn.dialect.identifier_preparer.quote
    return tuple(quote(name) for name in names)


def _chunks(rows: Iterable[tuple[Any, ...]]) -> Iterable[list[tuple[Any, ...]]]:
    chunk: list[tuple[Any, ...]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= CHUNK_ROWS:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
