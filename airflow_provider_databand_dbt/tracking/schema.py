"""Tables of the tracking store (SQLAlchemy Core, valid on SQLAlchemy 1.4 and 2.x, SQLite and PostgreSQL).

pipeline = dbt Cloud job; run = dbt Cloud run (unique per host, account, run id); step = run step;
node = a dbt unique_id within a pipeline; node_definition = one version of its manifest fields;
node_result = one node in one step (status and timing, referring to both); source = one sighting of a run by a tracker.
Changes to these tables go through ``tracking/migrations.py``.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Optional

import sqlalchemy as sa

PREFIX = "dbt_tracking_"
metadata = sa.MetaData()


class UtcDateTime(sa.types.TypeDecorator):
    """A timestamp stored in UTC and always read back timezone-aware in UTC, on SQLite too.

    SQLite keeps datetimes as text without an offset, so values are converted to UTC before
    they are written and marked UTC when read; naive values are taken to be UTC already.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Optional[datetime], dialect: Any) -> Optional[datetime]:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Optional[datetime], dialect: Any) -> Optional[datetime]:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


Timestamp = UtcDateTime()

pipelines = sa.Table(
    f"{PREFIX}pipeline",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("host", sa.String(255), nullable=False),
    sa.Column("account_id", sa.BigInteger, nullable=False),
    sa.Column("job_id", sa.BigInteger, nullable=False),
    sa.Column("name", sa.Text),
    sa.Column("project_id", sa.BigInteger),
    sa.Column("project_name", sa.Text),
    sa.Column("environment_id", sa.BigInteger),
    sa.Column("environment_name", sa.Text),
    sa.Column("first_seen_at", Timestamp, nullable=False),
    sa.Column("updated_at", Timestamp, nullable=False),
    # Runs whose pipeline_id is this one, kept by the write that adds a run (tracking/run_counts.py).
    sa.Column("run_count", sa.BigInteger, nullable=False, server_default=sa.text("0")),
    sa.UniqueConstraint("host", "account_id", "job_id", name=f"uq_{PREFIX}pipeline_job"),
)

runs = sa.Table(
    f"{PREFIX}run",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("host", sa.String(255), nullable=False),
    sa.Column("account_id", sa.BigInteger, nullable=False),
    sa.Column("run_id", sa.BigInteger, nullable=False),
    sa.Column("pipeline_id", sa.Integer, sa.ForeignKey(f"{PREFIX}pipeline.id"), nullable=True),
    sa.Column("job_id", sa.BigInteger),
    # Names as the run saw them, so a report reads back unchanged after a job or project is renamed.
    sa.Column("job_name", sa.Text),
    sa.Column("project_id", sa.BigInteger),
    sa.Column("project_name", sa.Text),
    sa.Column("environment_id", sa.BigInteger),
    sa.Column("environment_name", sa.Text),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("status_message", sa.Text),
    sa.Column("trigger_cause", sa.Text),
    sa.Column("git_branch", sa.Text),
    sa.Column("git_sha", sa.Text),
    sa.Column("dbt_version", sa.Text),
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
    # v2: what did not fit the columns and was clamped or dropped, in words (see tracking/fit.py).
    sa.Column("notes", sa.JSON, nullable=False, server_default=sa.text("'[]'")),
    # r0008: the run this one retries (same host and account), for retry chains.
    sa.Column("retry_of_run_id", sa.BigInteger),
    sa.UniqueConstraint("host", "account_id", "run_id", name=f"uq_{PREFIX}run_key"),
    # Every run listing sorts newest first by (created_at, run_id): each filter has an index ending in those.
    sa.Index(f"ix_{PREFIX}run_pipeline_created", "pipeline_id", "created_at", "run_id"),
    # v4: a pipeline's runs filtered by status and date, counted from the index alone.
    sa.Index(f"ix_{PREFIX}run_pipeline_status_created", "pipeline_id", "status", "created_at", "run_id"),
    sa.Index(f"ix_{PREFIX}run_job_created", "job_id", "created_at", "run_id"),
    sa.Index(f"ix_{PREFIX}run_status_created", "status", "created_at", "run_id"),
    sa.Index(f"ix_{PREFIX}run_created", "created_at", "run_id"),
    sa.Index(f"ix_{PREFIX}run_run_id", "run_id"),
    # r0008: the retries of a run, found from the run they retry (partial: most runs retry nothing).
    sa.Index(
        f"ix_{PREFIX}run_retry_of",
        "retry_of_run_id",
        sqlite_where=sa.text("retry_of_run_id IS NOT NULL"),
        postgresql_where=sa.text("retry_of_run_id IS NOT NULL"),
    ),
)

steps = sa.Table(
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
    # v2: the last re-collection that could not re-read an artifact whose nodes are kept from an earlier one.
    sa.Column("reread_failed", sa.JSON),
    sa.UniqueConstraint("run_pk", "step_index", name=f"uq_{PREFIX}step_index"),
)

# v5: a node's identity and its definitions are stored once; node_result keeps only what one step said.
nodes = sa.Table(
    f"{PREFIX}node",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    # "pipeline:<pipeline id>" for runs of a job, "run:<run pk>" for runs without one.
    sa.Column("scope", sa.String(64), nullable=False),
    sa.Column("unique_id", sa.String(1024), nullable=False),
    sa.UniqueConstraint("scope", "unique_id", name=f"uq_{PREFIX}node_key"),
    # node_history and the search look a node up by unique_id across pipelines.
    sa.Index(f"ix_{PREFIX}node_unique_id", "unique_id"),
)

node_definitions = sa.Table(
    f"{PREFIX}node_definition",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("node_id", sa.Integer, sa.ForeignKey(f"{PREFIX}node.id", ondelete="CASCADE"), nullable=False),
    # A hash of every field below: a tag or materialization change without a code change is a new version.
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

node_results = sa.Table(
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
    # node_history: a node's results across runs, and its last step within each run.
    sa.Index(f"ix_{PREFIX}node_result_history", "node_id", "run_pk", "step_index"),
    # No (run_pk, status) index since r0013: the unique key above serves the per-run queries.
)

# What readers query: one node result with its unique_id and definition, under the v4 column names.
# Queries that need only status, step and timing read node_results itself (no join).
node_result_view = (
    sa.select(
        node_results.c.id,
        node_results.c.run_pk,
        node_results.c.step_index,
        node_results.c.node_id,
        node_results.c.definition_id,
        nodes.c.unique_id,
        node_definitions.c.name,
        node_definitions.c.resource_type,
        node_results.c.status,
        node_results.c.execution_time,
        node_results.c.rows_affected,
        node_results.c.message,
        node_results.c.failures,
        node_definitions.c.depends_on,
        node_results.c.started_at,
        node_results.c.finished_at,
        node_definitions.c.materialization,
        node_definitions.c.tags,
        node_definitions.c.package_name,
        node_definitions.c.code_hash,
        node_definitions.c.database,
        node_definitions.c.schema,
        node_definitions.c.alias,
        node_results.c.thread_id,
    )
    .select_from(
        node_results.join(nodes, nodes.c.id == node_results.c.node_id).join(
            node_definitions, node_definitions.c.id == node_results.c.definition_id
        )
    )
    .subquery("node_result_v")
)

sources = sa.Table(
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

monitor_cursors = sa.Table(
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

monitor_leases = sa.Table(
    f"{PREFIX}monitor_lease",
    metadata,
    sa.Column("syncer", sa.String(255), primary_key=True),
    sa.Column("owner", sa.String(255), nullable=False),
    sa.Column("expires_at", Timestamp, nullable=False),
)

# Runs a monitor syncer could not collect or store (schema version 3): skipped so they cannot block the
# syncer, retried a few times with backoff; next_retry_at NULL once it gave up.
monitor_failed_runs = sa.Table(
    f"{PREFIX}monitor_failed_run",
    metadata,
    sa.Column("syncer", sa.String(255), primary_key=True),
    sa.Column("run_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("host", sa.String(255), nullable=False),
    sa.Column("account_id", sa.BigInteger, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("error_kind", sa.String(32), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("first_failed_at", Timestamp, nullable=False),
    sa.Column("last_failed_at", Timestamp, nullable=False),
    sa.Column("next_retry_at", Timestamp),
    sa.Index(f"ix_{PREFIX}monitor_failed_run_retry", "syncer", "next_retry_at"),
)

# dbt Cloud runs triggered by Airflow task instances, one row per try (schema version 6): written
# before the task waits, ended when the try ends normally, so a later try can tell a crash from an
# end and reattach to the run instead of triggering a second one (operators/reattach.py).
task_triggers = sa.Table(
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

# Alert incidents (revision r0011): one row per incident of a rule on a pipeline (run-level, or one node).
# open_key is "<rule>:<pipeline id>:<node id or 0>" while open and NULL once resolved: the unique constraint
# lets a (rule, pipeline, node) have one open incident at a time, enforced by the database (NULLs never clash).
alert_incidents = sa.Table(
    f"{PREFIX}alert_incident",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("rule", sa.String(32), nullable=False),
    sa.Column("pipeline_id", sa.Integer, sa.ForeignKey(f"{PREFIX}pipeline.id", ondelete="CASCADE"), nullable=False),
    sa.Column("node_id", sa.Integer, sa.ForeignKey(f"{PREFIX}node.id", ondelete="CASCADE")),
    sa.Column("node_unique_id", sa.String(1024)),
    sa.Column("node_name", sa.Text),
    sa.Column("resource_type", sa.String(64)),
    sa.Column("open_key", sa.String(96)),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("severity", sa.String(16), nullable=False),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("message", sa.Text),
    sa.Column("first_run_id", sa.BigInteger, nullable=False),
    sa.Column("last_run_id", sa.BigInteger, nullable=False),
    sa.Column("resolved_run_id", sa.BigInteger),
    sa.Column("occurrences", sa.Integer, nullable=False),
    sa.Column("opened_at", Timestamp, nullable=False),
    sa.Column("updated_at", Timestamp, nullable=False),
    sa.Column("resolved_at", Timestamp),
    sa.UniqueConstraint("open_key", name=f"uq_{PREFIX}alert_incident_open"),
    # The incidents page: newest activity first; a pipeline's and a node's incidents.
    sa.Index(f"ix_{PREFIX}alert_incident_updated", "updated_at", "id"),
    sa.Index(f"ix_{PREFIX}alert_incident_pipeline", "pipeline_id", "updated_at"),
    sa.Index(f"ix_{PREFIX}alert_incident_node", "node_unique_id", "updated_at"),
)

# The newest run the rules evaluated, per pipeline (r0011): a run at or before it is not evaluated again,
# so every tracker of one run (operator, monitor, webhook) opens one incident and sends one notification.
alert_evaluations = sa.Table(
    f"{PREFIX}alert_evaluation",
    metadata,
    sa.Column("pipeline_id", sa.Integer, sa.ForeignKey(f"{PREFIX}pipeline.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("run_pk", sa.Integer, nullable=False),
    sa.Column("run_id", sa.BigInteger, nullable=False),
    sa.Column("run_created_at", Timestamp),
    sa.Column("evaluated_at", Timestamp, nullable=False),
)

# r0012: alert notifications waiting to be sent, one row per (notification, channel) (alerts/outbox.py). Written in
# the transaction that changes the incident, so nothing is lost by a crash; sent by alerts/delivery.py, which
# claims a row (state "sending", next_attempt_at = end of its lease) before sending it.
alert_outbox = sa.Table(
    f"{PREFIX}alert_outbox",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("notification_key", sa.String(255), nullable=False),
    sa.Column("channel", sa.String(100), nullable=False),
    sa.Column("incident_id", sa.BigInteger),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default=sa.text("0")),
    sa.Column("next_attempt_at", Timestamp, nullable=False),
    sa.Column("claimed_by", sa.String(255)),
    sa.Column("last_error", sa.Text),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("sent_at", Timestamp),
    sa.UniqueConstraint("notification_key", "channel", name=f"uq_{PREFIX}alert_outbox_key"),
    # What a drain reads: the due rows of each state, oldest due first.
    sa.Index(f"ix_{PREFIX}alert_outbox_due", "state", "next_attempt_at"),
    # Where a "resolved" notification goes: the channels that were told about the incident.
    sa.Index(f"ix_{PREFIX}alert_outbox_incident", "incident_id", "channel"),
)

# The request budget of a dbt Cloud account (host, account_id) shared by every process tracking into this
# store (revision r0010): a token bucket refilled continuously, and a lock-out after a 429. Times are epoch
# seconds of the store's clock (tracking/request_budget.py says which clock and why).
request_budgets = sa.Table(
    f"{PREFIX}request_budget",
    metadata,
    sa.Column("host", sa.String(255), primary_key=True),
    sa.Column("account_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("requests_per_minute", sa.Float),
    sa.Column("tokens", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
    sa.Column("blocked_until", sa.Float),
    sa.Column("set_by", sa.String(255)),
    sa.Column("blocked_by", sa.String(255)),
)

# dbt Cloud webhook deliveries queued by the monitor's receiver (revision r0009): acknowledged only once
# inserted here, then claimed and tracked by a worker. One row per (syncer, eventId): redeliveries are no-ops.
# state: queued -> claimed (by claimed_by until claimed_until) -> done, or failed after its last attempt.
webhook_events = sa.Table(
    f"{PREFIX}webhook_event",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("syncer", sa.String(255), nullable=False),
    sa.Column("event_id", sa.String(255), nullable=False),
    sa.Column("event_type", sa.String(64), nullable=False),
    sa.Column("host", sa.String(255), nullable=False),
    sa.Column("account_id", sa.BigInteger, nullable=False),
    sa.Column("run_id", sa.BigInteger, nullable=False),
    sa.Column("received_at", Timestamp, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default=sa.text("0")),
    sa.Column("available_at", Timestamp, nullable=False),
    sa.Column("claimed_by", sa.String(255)),
    sa.Column("claimed_until", Timestamp),
    sa.Column("processed_at", Timestamp),
    sa.Column("last_error", sa.Text),
    sa.UniqueConstraint("syncer", "event_id", name=f"uq_{PREFIX}webhook_event_key"),
    sa.Index(f"ix_{PREFIX}webhook_event_state", "state", "available_at"),
)

schema_version = sa.Table(
    f"{PREFIX}schema_version",
    metadata,
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("applied_at", Timestamp, nullable=False),
)
