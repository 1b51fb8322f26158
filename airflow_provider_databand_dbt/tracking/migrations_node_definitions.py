"""Revision r0006 (store v2): node definitions stored once per pipeline, node results slim.

Version 4 kept every manifest field (name, type, tags, depends_on, code hash...) in each node_result
row. Version 5 moves them to ``node`` (a unique_id within a pipeline) and ``node_definition`` (one row
per version of those fields), and ``node_result`` keeps the step's status and timing with references
to both. The upgrade copies the v4 rows aside (``CREATE TABLE ... AS SELECT``, so no index, sequence
or constraint name collides with the new table's), creates the v5 tables, rewrites each run's nodes
through the same bulk writer a save uses (in their stored order, so reports read back identical),
and drops the copy. Nothing references node_result, so dropping it cascades nowhere.
"""

from __future__ import annotations

import logging
from collections import defaultdict

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from airflow_provider_databand_dbt.model.report import NodeResult, StepReport
from airflow_provider_databand_dbt.tracking import schema
from airflow_provider_databand_dbt.tracking.bulk import write_nodes
from airflow_provider_databand_dbt.tracking.definitions import node_scope

log = logging.getLogger(__name__)

V4_COPY = f"{schema.PREFIX}node_result_v4"

# The node_result table of versions 1 to 4 (what migrations up to 4 change), frozen here.
legacy_metadata = sa.MetaData()
sa.Table(f"{schema.PREFIX}run", legacy_metadata, sa.Column("id", sa.Integer, primary_key=True))
node_results_v4 = sa.Table(
    f"{schema.PREFIX}node_result",
    legacy_metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_pk", sa.Integer, sa.ForeignKey(f"{schema.PREFIX}run.id", ondelete="CASCADE"), nullable=False),
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
    sa.Column("started_at", schema.Timestamp),
    sa.Column("finished_at", schema.Timestamp),
    sa.Column("materialization", sa.Text),
    sa.Column("tags", sa.JSON, nullable=False),
    sa.Column("package_name", sa.Text),
    sa.Column("code_hash", sa.Text),
    sa.Column("thread_id", sa.Text),
    sa.UniqueConstraint("run_pk", "step_index", "unique_id", name=f"uq_{schema.PREFIX}node_result_key"),
    sa.Index(f"ix_{schema.PREFIX}node_result_history", "unique_id", "run_pk", "step_index"),
    sa.Index(f"ix_{schema.PREFIX}node_result_run_status", "run_pk", "status"),
)
_V4_FIELDS = tuple(name for name in NodeResult.__struct_fields__ if name in node_results_v4.c)


def upgrade_node_definitions(conn: Connection) -> None:
    """Bring a version 4 store to version 5 inside the caller's transaction; every node result is kept."""
    conn.exec_driver_sql(f"CREATE TABLE {V4_COPY} AS SELECT * FROM {node_results_v4.name}")
    conn.exec_driver_sql(f"CREATE INDEX ix_{V4_COPY}_run ON {V4_COPY} (run_pk, id)")
    conn.exec_driver_sql(f"DROP TABLE {node_results_v4.name}")
    for table in (schema.nodes, schema.node_definitions, schema.node_results):
        table.create(conn)
    copy = sa.table(V4_COPY, *(sa.column(column.name, column.type) for column in node_results_v4.c))
    runs = conn.execute(
        sa.select(schema.runs.c.id, schema.runs.c.pipeline_id)
        .where(schema.runs.c.id.in_(sa.select(copy.c.run_pk).distinct()))
        .order_by(schema.runs.c.id)
    ).all()
    for run_pk, pipeline_id in runs:
        by_step: dict[int, list[NodeResult]] = defaultdict(list)
        query = (
            sa.select(copy.c.step_index, *(copy.c[name] for name in _V4_FIELDS))
            .where(copy.c.run_pk == run_pk)
            .order_by(copy.c.id)
        )
        for row in conn.execute(query):
            values = row._mapping
            by_step[row.step_index].append(NodeResult(**{name: values[name] for name in _V4_FIELDS}))
        # Steps only carry the nodes here; write_nodes writes node rows, never step rows.
        carriers = [StepReport(index=index, name="", status="", nodes=found) for index, found in by_step.items()]
        write_nodes(conn, run_pk, node_scope(pipeline_id, run_pk), carriers)
    log.info("Moved the node definitions of %s runs out of their node results", len(runs))
    conn.exec_driver_sql(f"DROP TABLE {V4_COPY}")
