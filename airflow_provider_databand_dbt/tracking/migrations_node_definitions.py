"""Revision r0006 (store v2): node definitions stored once per pipeline, node results slim.

Version 4 kept every manifest field (name, type, tags, depends_on, code hash...) in each node_result
row. Version 5 moves them to ``node`` (a unique_id within a pipeline) and ``node_definition`` (one row
per version of those fields), and ``node_result`` keeps the step's status and timing with references
to both. The upgrade copies the v4 rows aside (``CREATE TABLE ... AS SELECT``, so no index, sequence
or constraint name collides with the new table's), creates the v5 tables, moves each run's nodes (in
their stored order, so reports read back identical) and drops the copy. Nothing references node_result,
so dropping it cascades nowhere.

Everything here is frozen as the revision was written: the tables come from ``schema_history`` and the
moving code is this module's own, not ``schema.py`` and the bulk writer of saves, which later revisions
change.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime, timezone
from typing import Any, Optional

import msgspec
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from airflow_provider_databand_dbt.tracking.schema import PREFIX, Timestamp
from airflow_provider_databand_dbt.tracking.schema_history import node_tables_r0006

log = logging.getLogger(__name__)

V4_COPY = f"{PREFIX}node_result_v4"

# The node_result table of versions 1 to 4 (what migrations up to 4 change), frozen here.
legacy_metadata = sa.MetaData()
sa.Table(f"{PREFIX}run", legacy_metadata, sa.Column("id", sa.Integer, primary_key=True))
node_results_v4 = sa.Table(
    f"{PREFIX}node_result",
    legacy_metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_pk", sa.Integer, sa.ForeignKey(f"{PREFIX}run.id", ondelete="CASCADE"), nullable=False),
    sa.Column("step_index", sa.Integer, nullable=False),
    sa.Column("unique_id", sa.String(1024), nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("resource_type", sa.Text, nullable=False),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("execution_time", sa.Float),
    sa.Column("rows_affected", sa.BigInteger),
    sa.Column("message", sa.Text),
    sa.Column("failures", sa.BigInteger),
    sa.Column("depends_on", sa.JSON, nullable=False),
    sa.Column("started_at", Timestamp),
    sa.Column("finished_at", Timestamp),
    sa.Column("materialization", sa.Text),
    sa.Column("tags", sa.JSON, nullable=False),
    sa.Column("package_name", sa.Text),
    sa.Column("code_hash", sa.Text),
    sa.Column("thread_id", sa.Text),
    sa.UniqueConstraint("run_pk", "step_index", "unique_id", name=f"uq_{PREFIX}node_result_key"),
    sa.Index(f"ix_{PREFIX}node_result_history", "unique_id", "run_pk", "step_index"),
    sa.Index(f"ix_{PREFIX}node_result_run_status", "run_pk", "status"),
)

# The v5 tables this revision creates (beside a stand-in of the run table they refer to).
v5_metadata = sa.MetaData()
v5_runs = sa.Table(
    f"{PREFIX}run", v5_metadata, sa.Column("id", sa.Integer, primary_key=True), sa.Column("pipeline_id", sa.Integer)
)
v5_nodes, v5_definitions, v5_results = node_tables_r0006(v5_metadata)

# The definition's fields, in the order of the hashed tuple (v4 rows have no database, schema or alias: None),
# and a result's own fields: both as the frozen v5 tables list them.
DEFINITION_FIELDS = tuple(
    c.name for c in v5_definitions.c if c.name not in ("id", "node_id", "definition_hash", "first_seen_at")
)
RESULT_FIELDS = tuple(
    c.name for c in v5_results.c if c.name not in ("id", "run_pk", "step_index", "node_id", "definition_id")
)


def upgrade_node_definitions(conn: Connection) -> None:
    """Bring a version 4 store to version 5 inside the caller's transaction; every node result is kept."""
    conn.exec_driver_sql(f"CREATE TABLE {V4_COPY} AS SELECT * FROM {node_results_v4.name}")
    conn.exec_driver_sql(f"CREATE INDEX ix_{V4_COPY}_run ON {V4_COPY} (run_pk, id)")
    conn.exec_driver_sql(f"DROP TABLE {node_results_v4.name}")
    for table in (v5_nodes, v5_definitions, v5_results):
        table.create(conn)
    copy = sa.table(V4_COPY, *(sa.column(column.name, column.type) for column in node_results_v4.c))
    runs = conn.execute(
        sa.select(v5_runs.c.id, v5_runs.c.pipeline_id)
        .where(v5_runs.c.id.in_(sa.select(copy.c.run_pk).distinct()))
        .order_by(v5_runs.c.id)
    ).all()
    mover = _Mover(conn, datetime.now(timezone.utc))
    for run_pk, pipeline_id in runs:
        query = sa.select(copy).where(copy.c.run_pk == run_pk).order_by(copy.c.id)
        mover.move(run_pk, _scope(pipeline_id, run_pk), [row._mapping for row in conn.execute(query)])
    log.info("Moved the node definitions of %s runs out of their node results", len(runs))
    conn.exec_driver_sql(f"DROP TABLE {V4_COPY}")


def _scope(pipeline_id: Optional[int], run_pk: int) -> str:
    """A node's scope as r0006 wrote it: its pipeline, or the run itself when the run has no job."""
    return f"pipeline:{pipeline_id}" if pipeline_id is not None else f"run:{run_pk}"


def _definition_hash(row: Any) -> str:
    """A hash of every definition field, as r0006 wrote it (saves reuse a definition whose hash matches)."""
    encoded = msgspec.json.encode(tuple(row.get(name) for name in DEFINITION_FIELDS))
    return hashlib.blake2b(encoded, digest_size=16).hexdigest()


class _Mover:
    """Writes v4 node rows as v5 nodes, definitions (each once per scope) and slim results."""

    def __init__(self, conn: Connection, now: datetime) -> None:
        self.conn, self.now = conn, now
        self.node_ids: dict[tuple[str, str], int] = {}  # (scope, unique_id)
        self.definition_ids: dict[tuple[int, str], int] = {}  # (node id, definition hash)

    def move(self, run_pk: int, scope: str, rows: list[Any]) -> None:
        """Write one run's v4 rows (in stored order) to the v5 tables."""
        new_nodes = sorted({row["unique_id"] for row in rows if (scope, row["unique_id"]) not in self.node_ids})
        if new_nodes:
            self.conn.execute(v5_nodes.insert(), [{"scope": scope, "unique_id": uid} for uid in new_nodes])
            found = sa.select(v5_nodes.c.unique_id, v5_nodes.c.id).where(v5_nodes.c.scope == scope)
            self.node_ids.update({(scope, uid): node_id for uid, node_id in self.conn.execute(found)})
        keyed = [(self.node_ids[(scope, row["unique_id"])], _definition_hash(row), row) for row in rows]
        new_definitions = {(node_id, digest): row for node_id, digest, row in keyed}
        new_definitions = {key: row for key, row in new_definitions.items() if key not in self.definition_ids}
        if new_definitions:
            self.conn.execute(
                v5_definitions.insert(),
                [
                    {
                        "node_id": node_id,
                        "definition_hash": digest,
                        **{name: row.get(name) for name in DEFINITION_FIELDS},
                        "first_seen_at": self.now,
                    }
                    for (node_id, digest), row in sorted(new_definitions.items(), key=lambda item: item[0])
                ],
            )
            node_ids = sorted({node_id for node_id, _ in new_definitions})
            found = sa.select(v5_definitions.c.node_id, v5_definitions.c.definition_hash, v5_definitions.c.id).where(
                v5_definitions.c.node_id.in_(node_ids)
            )
            self.definition_ids.update({(row.node_id, row.definition_hash): row.id for row in self.conn.execute(found)})
        self.conn.execute(
            v5_results.insert(),
            [
                {
                    "run_pk": run_pk,
                    "step_index": row["step_index"],
                    "node_id": node_id,
                    "definition_id": self.definition_ids[(node_id, digest)],
                    **{name: row[name] for name in RESULT_FIELDS},
                }
                for node_id, digest, row in keyed
            ],
        )
