"""Nodes and their definitions, stored once per pipeline: find the known ones in bulk, insert only new ones.

A node is a dbt unique_id within a scope (the run's pipeline, or the run itself when it has no job).
A definition is one version of its manifest fields, keyed by a hash of all of them, so a result of an
unchanged node costs one dictionary lookup. New nodes and definitions are inserted with
``ON CONFLICT DO NOTHING`` in sorted order and read back, so concurrent saves of two runs of one
pipeline never fail on, or deadlock over, the same new node.
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
    encoded = msgspec.json.encode(
        (
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
    )
    return hashlib.blake2b(encoded, digest_size=16).hexdigest()


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

    def complete(self, wanted: dict[DefinitionKey, NodeResult], now: Any, encode_json: Callable[[Any], str]) -> None:
        """Insert the nodes and definitions of ``wanted`` the store lacks, then know all their ids."""
        missing_nodes = sorted({uid for uid, _ in wanted if uid not in self.node_ids})
        if missing_nodes:
            self._insert(nodes.name, ("scope", "unique_id"), ((self.scope, uid) for uid in missing_nodes))
            self._load()
        missing = sorted(key for key in wanted if key not in self.definition_ids)
        if missing:
            columns = ("node_id", "definition_hash", *_quoted(self.conn, DEFINITION_FIELDS), "first_seen_at")
            rows = (
                (self.node_ids[uid], digest, *_definition_values(wanted[(uid, digest)], encode_json), now)
                for uid, digest in missing
            )
            self._insert(node_definitions.name, columns, rows)
            self._load()

    def _insert(self, table: str, columns: tuple[str, ...], rows: Iterable[tuple[Any, ...]]) -> None:
        sql = (
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join([self.marker] * len(columns))}) "
            "ON CONFLICT DO NOTHING"
        )
        for chunk in _chunks(rows):
            self.conn.exec_driver_sql(sql, chunk)


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
