"""The store's tables as the revisions that create or change them wrote them, frozen.

A revision must not read ``schema.py``: it describes the latest version, and a later revision changing a
table there would change what an old revision does. Revisions r0001 and r0002 build the tables of versions
1 (0.1.0) and 2 from :func:`tables`, r0005 the task trigger table of :func:`task_triggers_r0005`, r0006 the
node tables of :func:`node_tables_r0006`. The tables of r0009 to r0012 are in ``schema_history_r0009_r0012``.
"""

from __future__ import annotations

import sqlalchemy as sa

from airflow_provider_databand_dbt.tracking.schema import PREFIX, Timestamp


def tables(version: int) -> sa.MetaData:
    """A new MetaData holding the store's tables at schema ``version`` 1 or 2 (3 and 4 only added to them)."""
    if version not in (1, 2):
        raise ValueError(f"no frozen tables for schema version {version}")
    v2 = version == 2
    metadata = sa.MetaData()
    # v2 made every free text from dbt Cloud or an artifact unlimited; v1 gave each a length.
    name, short, tiny = (sa.Text, sa.Text, sa.Text) if v2 else (sa.String(1024), sa.String(255), sa.String(64))
    sa.Table(
        f"{PREFIX}pipeline",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("account_id", sa.BigInteger, nullable=False),
        sa.Column("job_id", sa.BigInteger, nullable=False),
        sa.Column("name", name),
        sa.Column("project_id", sa.BigInteger),
        sa.Column("project_name", name),
        sa.Column("environment_id", sa.BigInteger),
        sa.Column("environment_name", name),
        sa.Column("first_seen_at", Timestamp, nullable=False),
        sa.Column("updated_at", Timestamp, nullable=False),
        sa.UniqueConstraint("host", "account_id", "job_id", name=f"uq_{PREFIX}pipeline_job"),
    )
    sa.Table(
        f"{PREFIX}run",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("account_id", sa.BigInteger, nullable=False),
        sa.Column("run_id", sa.BigInteger, nullable=False),
        sa.Column("pipeline_id", sa.Integer, sa.ForeignKey(f"{PREFIX}pipeline.id"), nullable=True),
        sa.Column("job_id", sa.BigInteger),
        sa.Column("job_name", name),
        sa.Column("project_id", sa.BigInteger),
        sa.Column("project_name", name),
        sa.Column("environment_id", sa.BigInteger),
        sa.Column("environment_name", name),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("status_message", sa.Text),
        sa.Column("trigger_cause", sa.Text),
        sa.Column("git_branch", name),
        sa.Column("git_sha", short),
        sa.Column("dbt_version", short),
        sa.Column("created_at", Timestamp),
        sa.Column("started_at", Timestamp),
        sa.Column("finished_at", Timestamp),
        sa.Column("duration_seconds", sa.Float),
        sa.Column("url", sa.Text),
        sa.Column("node_count", sa.Integer, nullable=False, server_default="0"),
        sa.Column("summary", sa.JSON, nullable=False),
        sa.Column("collected_at", Timestamp),
        sa.Column("first_tracked_at", Timestamp, nullable=False),
        sa.Column("updated_at", Timestamp, nullable=False),
        *([sa.Column("notes", sa.JSON, nullable=False, server_default=sa.text("'[]'"))] if v2 else []),
        sa.UniqueConstraint("host", "account_id", "run_id", name=f"uq_{PREFIX}run_key"),
        sa.Index(f"ix_{PREFIX}run_pipeline_created", "pipeline_id", "created_at", "run_id"),
        sa.Index(f"ix_{PREFIX}run_job_created", "job_id", "created_at", "run_id"),
        sa.Index(f"ix_{PREFIX}run_status_created", "status", "created_at", "run_id"),
        sa.Index(f"ix_{PREFIX}run_created", "created_at", "run_id"),
        sa.Index(f"ix_{PREFIX}run_run_id", "run_id"),
    )
    sa.Table(
        f"{PREFIX}step",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_pk", sa.Integer, sa.ForeignKey(f"{PREFIX}run.id", ondelete="CASCADE"), nullable=False),
        sa.Column("step_index", sa.Integer, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("command", sa.Text),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("started_at", Timestamp),
        sa.Column("finished_at", Timestamp),
        sa.Column("duration_seconds", sa.Float),
        sa.Column("artifacts_missing", sa.JSON, nullable=False),
        *([sa.Column("reread_failed", sa.JSON)] if v2 else []),
        sa.UniqueConstraint("run_pk", "step_index", name=f"uq_{PREFIX}step_index"),
    )
    sa.Table(
        f"{PREFIX}node_result",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_pk", sa.Integer, sa.ForeignKey(f"{PREFIX}run.id", ondelete="CASCADE"), nullable=False),
        sa.Column("step_index", sa.Integer, nullable=False),
        sa.Column("unique_id", sa.String(1024), nullable=False),
        sa.Column("name", name, nullable=False),
        sa.Column("resource_type", tiny, nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("execution_time", sa.Float),
        sa.Column("rows_affected", sa.BigInteger),
        sa.Column("message", sa.Text),
        sa.Column("failures", sa.BigInteger if v2 else sa.Integer),
        sa.Column("depends_on", sa.JSON, nullable=False),
        sa.Column("started_at", Timestamp),
        sa.Column("finished_at", Timestamp),
        sa.Column("materialization", tiny),
        sa.Column("tags", sa.JSON, nullable=False),
        sa.Column("package_name", short),
        sa.Column("code_hash", sa.Text if v2 else sa.String(128)),
        sa.Column("thread_id", short),
        sa.UniqueConstraint("run_pk", "step_index", "unique_id", name=f"uq_{PREFIX}node_result_key"),
        sa.Index(f"ix_{PREFIX}node_result_history", "unique_id", "run_pk", "step_index"),
        sa.Index(f"ix_{PREFIX}node_result_run_status", "run_pk", "status"),
    )
    sa.Table(
        f"{PREFIX}source",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_pk", sa.Integer, sa.ForeignKey(f"{PREFIX}run.id", ondelete="CASCADE"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("name", sa.String(1024)),
        sa.Column("dag_id", sa.String(250)),
        sa.Column("task_id", sa.String(250)),
        sa.Column("airflow_run_id", sa.String(250)),
        sa.Column("try_number", sa.Integer),
        sa.Column("map_index", sa.Integer),
        sa.Column("hostname", sa.String(255)),
        sa.Column("tracked_at", Timestamp, nullable=False),
        sa.Index(f"ix_{PREFIX}source_run", "run_pk"),
    )
    sa.Table(
        f"{PREFIX}monitor_cursor",
        metadata,
        sa.Column("syncer", sa.String(255), primary_key=True),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("account_id", sa.BigInteger, nullable=False),
        sa.Column("last_run_id", sa.BigInteger),
        sa.Column("active_run_ids", sa.JSON, nullable=False),
        sa.Column("backfill_done", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("updated_at", Timestamp, nullable=False),
    )
    sa.Table(
        f"{PREFIX}monitor_lease",
        metadata,
        sa.Column("syncer", sa.String(255), primary_key=True),
        sa.Column("owner", sa.String(255), nullable=False),
        sa.Column("expires_at", Timestamp, nullable=False),
    )
    # The legacy version table; since Alembic it only holds LEGACY_FENCE, so older code refuses the store.
    sa.Table(
        f"{PREFIX}schema_version",
        metadata,
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("applied_at", Timestamp, nullable=False),
    )
    return metadata


def task_triggers_r0005(metadata: sa.MetaData) -> sa.Table:
    """The dbt Cloud runs triggered per Airflow task instance try, as revision r0005 created them."""
    return sa.Table(
        f"{PREFIX}task_trigger",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("dag_id", sa.String(250), nullable=False),
        sa.Column("task_id", sa.String(250), nullable=False),
        sa.Column("airflow_run_id", sa.String(250), nullable=False),
        sa.Column("map_index", sa.Integer, nullable=False),
        sa.Column("try_number", sa.Integer, nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("account_id", sa.BigInteger, nullable=False),
        sa.Column("job_id", sa.BigInteger, nullable=False),
        sa.Column("token", sa.String(64), nullable=False),
        sa.Column("dbt_run_id", sa.BigInteger),
        sa.Column("triggered_by_try", sa.Integer, nullable=False),
        sa.Column("started_at", Timestamp, nullable=False),
        sa.Column("ended_at", Timestamp),
        sa.Column("outcome", sa.String(32)),
        sa.Index(f"ix_{PREFIX}task_trigger_task", "dag_id", "task_id", "airflow_run_id", "map_index"),
    )


def node_tables_r0006(metadata: sa.MetaData) -> tuple[sa.Table, sa.Table, sa.Table]:
    """``(node, node_definition, node_result)`` as revision r0006 (store v2) created them.

    ``metadata`` must hold a ``run`` table with an ``id`` (node_result refers to it).
    """
    nodes = sa.Table(
        f"{PREFIX}node",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("scope", sa.String(64), nullable=False),
        sa.Column("unique_id", sa.String(1024), nullable=False),
        sa.UniqueConstraint("scope", "unique_id", name=f"uq_{PREFIX}node_key"),
        sa.Index(f"ix_{PREFIX}node_unique_id", "unique_id"),
    )
    definitions = sa.Table(
        f"{PREFIX}node_definition",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("node_id", sa.Integer, sa.ForeignKey(f"{PREFIX}node.id", ondelete="CASCADE"), nullable=False),
        sa.Column("definition_hash", sa.String(64), nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("resource_type", sa.Text, nullable=False),
        sa.Column("package_name", sa.Text),
        sa.Column("materialization", sa.Text),
        sa.Column("tags", sa.JSON, nullable=False),
        sa.Column("depends_on", sa.JSON, nullable=False),
        sa.Column("code_hash", sa.Text),
        sa.Column("database", sa.Text),
        sa.Column("schema", sa.Text),
        sa.Column("alias", sa.Text),
        sa.Column("first_seen_at", Timestamp, nullable=False),
        sa.UniqueConstraint("node_id", "definition_hash", name=f"uq_{PREFIX}node_definition_key"),
    )
    results = sa.Table(
        f"{PREFIX}node_result",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_pk", sa.Integer, sa.ForeignKey(f"{PREFIX}run.id", ondelete="CASCADE"), nullable=False),
        sa.Column("step_index", sa.Integer, nullable=False),
        sa.Column("node_id", sa.Integer, sa.ForeignKey(f"{PREFIX}node.id"), nullable=False),
        sa.Column("definition_id", sa.Integer, sa.ForeignKey(f"{PREFIX}node_definition.id"), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("execution_time", sa.Float),
        sa.Column("rows_affected", sa.BigInteger),
        sa.Column("message", sa.Text),
        sa.Column("failures", sa.BigInteger),
        sa.Column("started_at", Timestamp),
        sa.Column("finished_at", Timestamp),
        sa.Column("thread_id", sa.Text),
        sa.UniqueConstraint("run_pk", "step_index", "node_id", name=f"uq_{PREFIX}node_result_key"),
        sa.Index(f"ix_{PREFIX}node_result_history", "node_id", "run_pk", "step_index"),
        sa.Index(f"ix_{PREFIX}node_result_run_status", "run_pk", "status"),
    )
    return nodes, definitions, results
