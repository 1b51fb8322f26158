"""Saving a RunReport: one transaction that upserts the pipeline and run, replaces steps and nodes, adds a source.

Tracking is idempotent: a run is one row keyed by (host, account id, run id), whoever saves it and in
whatever order. A finished run is never replaced by an in-progress snapshot; the database enforces
that with ``ON CONFLICT DO UPDATE ... WHERE``, and concurrent saves of one run are serialised
(PostgreSQL advisory lock, SQLite ``BEGIN IMMEDIATE``) so steps and nodes are never duplicated.
"""
from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Any, Callable, Iterator, Optional

import msgspec
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from airflow_provider_databand_dbt.collector.report import RunReport, StepReport
from airflow_provider_databand_dbt.dbt_cloud.status import TERMINAL_LABELS
from airflow_provider_databand_dbt.tracking.engine import advisory_xact_lock, upsert_statement
from airflow_provider_databand_dbt.tracking.rows import SaveAction, SaveOutcome
from airflow_provider_databand_dbt.tracking.schema import node_results, pipelines, runs, sources, steps
from airflow_provider_databand_dbt.tracking.source import TrackingSource

log = logging.getLogger(__name__)

# Rows per executemany call: large enough to be fast, small enough to keep parameter lists modest.
INSERT_CHUNK_ROWS = 2000
_PIPELINE_NAME_COLUMNS = ("name", "project_id", "project_name", "environment_id", "environment_name")
_RUN_KEY = ("host", "account_id", "run_id")


def save_report(conn: Connection, report: RunReport, source: TrackingSource) -> SaveOutcome:
    """Store one report inside the caller's write transaction; see :meth:`TrackingStore.save_report`."""
    now = datetime.now(timezone.utc)
    advisory_xact_lock(conn, f"run:{report.host}:{report.account_id}:{report.run_id}")
    key = (runs.c.host == report.host) & (runs.c.account_id == report.account_id) & (runs.c.run_id == report.run_id)
    existing = conn.execute(sa.select(runs.c.id, runs.c.status).where(key)).first()
    action: SaveAction
    if existing is None:
        action = "created"
    elif existing.status in TERMINAL_LABELS and report.status not in TERMINAL_LABELS:
        action = "kept_newer"
    else:
        action = "updated"

    if action != "kept_newer":
        pipeline_id = _upsert_pipeline(conn, report, now) if report.job_id is not None else None
        _upsert_run(conn, report, pipeline_id, now)
        row = conn.execute(sa.select(runs.c.id, runs.c.updated_at).where(key)).one()
        run_pk = row.id
        if row.updated_at != now:
            # The database's own guard kept a finished run: trust it over our reading above.
            action = "kept_newer"
        else:
            if action == "updated":
                conn.execute(node_results.delete().where(node_results.c.run_pk == run_pk))
                conn.execute(steps.delete().where(steps.c.run_pk == run_pk))
            _insert_steps_and_nodes(conn, run_pk, report)
    else:
        run_pk = existing.id
    conn.execute(sources.insert().values(run_pk=run_pk, **msgspec.structs.asdict(source)))
    log.debug("Run %s of account %s on %s: %s (run_pk %s)", report.run_id, report.account_id, report.host,
              action, run_pk)
    return SaveOutcome(run_pk=run_pk, action=action)


def _upsert_pipeline(conn: Connection, report: RunReport, now: datetime) -> int:
    values = {
        "host": report.host,
        "account_id": report.account_id,
        "job_id": report.job_id,
        "name": report.job_name,
        "project_id": report.project_id,
        "project_name": report.project_name,
        "environment_id": report.environment_id,
        "environment_name": report.environment_name,
        "first_seen_at": now,
        "updated_at": now,
    }
    stmt = upsert_statement(conn, pipelines).values(**values)
    # A report without a name (e.g. a job we could not read) must not erase the one we know.
    refreshed = {col: sa.func.coalesce(stmt.excluded[col], pipelines.c[col]) for col in _PIPELINE_NAME_COLUMNS}
    stmt = stmt.on_conflict_do_update(
        index_elements=["host", "account_id", "job_id"],
        set_={**refreshed, "updated_at": stmt.excluded.updated_at},
    )
    conn.execute(stmt)
    return conn.execute(
        sa.select(pipelines.c.id).where(
            (pipelines.c.host == report.host)
            & (pipelines.c.account_id == report.account_id)
            & (pipelines.c.job_id == report.job_id)
        )
    ).scalar_one()


def run_values(report: RunReport) -> dict[str, Any]:
    """The run row's columns taken from the report (everything but steps, nodes and bookkeeping)."""
    return {
        "host": report.host,
        "account_id": report.account_id,
        "run_id": report.run_id,
        "job_id": report.job_id,
        "job_name": report.job_name,
        "project_id": report.project_id,
        "project_name": report.project_name,
        "environment_id": report.environment_id,
        "environment_name": report.environment_name,
        "status": report.status,
        "status_message": report.status_message,
        "trigger_cause": report.trigger_cause,
        "git_branch": report.git_branch,
        "git_sha": report.git_sha,
        "dbt_version": report.dbt_version,
        "created_at": report.created_at,
        "started_at": report.started_at,
        "finished_at": report.finished_at,
        "duration_seconds": report.duration_seconds,
        "url": report.url,
        "collected_at": report.collected_at,
        "summary": report.summary,
        "node_count": sum(len(step.nodes) for step in report.steps),
    }


def _upsert_run(conn: Connection, report: RunReport, pipeline_id: Optional[int], now: datetime) -> None:
    values = {**run_values(report), "pipeline_id": pipeline_id, "first_tracked_at": now, "updated_at": now}
    stmt = upsert_statement(conn, runs).values(**values)
    updated = {col: stmt.excluded[col] for col in values if col not in _RUN_KEY and col != "first_tracked_at"}
    terminal = sorted(TERMINAL_LABELS)
    stmt = stmt.on_conflict_do_update(
        index_elements=list(_RUN_KEY),
        set_=updated,
        # A finished run only ever gives way to another finished snapshot of itself.
        where=sa.or_(runs.c.status.not_in(terminal), stmt.excluded.status.in_(terminal)),
    )
    conn.execute(stmt)


def _insert_steps_and_nodes(conn: Connection, run_pk: int, report: RunReport) -> None:
    unique_steps = _unique_steps(report)
    if not unique_steps:
        return
    conn.execute(
        steps.insert(),
        [
            {
                "run_pk": run_pk,
                "step_index": step.index,
                "name": step.name,
                "command": step.command,
                "status": step.status,
                "started_at": step.started_at,
                "finished_at": step.finished_at,
                "duration_seconds": step.duration_seconds,
                "artifacts_missing": msgspec.to_builtins(step.artifacts_missing),
            }
            for step in unique_steps
        ],
    )
    sql = _bulk_node_insert_sql(conn.dialect.paramstyle)
    encode_time, encode_json = _bulk_encoders(conn.dialect.name)
    chunk: list[tuple[Any, ...]] = []
    for row in _node_rows(run_pk, unique_steps, encode_time, encode_json):
        chunk.append(row)
        if len(chunk) >= INSERT_CHUNK_ROWS:
            conn.exec_driver_sql(sql, chunk)
            chunk = []
    if chunk:
        conn.exec_driver_sql(sql, chunk)


NODE_COLUMNS = tuple(c.name for c in node_results.c if c.name != "id")


def _bulk_node_insert_sql(paramstyle: str) -> str:
    """A plain driver-level INSERT into node_result: the values arrive already encoded.

    SQLAlchemy's per-value type processing and statement compilation were most of the time of a
    large save, so ``_bulk_encoders`` produces the exact database values ``schema.UtcDateTime`` and
    ``sa.JSON`` would and the rows go to the DB-API's executemany as tuples; the round-trip tests
    read them back through the typed table on both backends.
    """
    marker = "?" if paramstyle == "qmark" else "%s"
    return (
        f"INSERT INTO {node_results.name} ({', '.join(NODE_COLUMNS)}) "
        f"VALUES ({', '.join([marker] * len(NODE_COLUMNS))})"
    )


def _bulk_encoders(dialect: str) -> tuple[Callable[[Optional[datetime]], Any], Callable[[Any], str]]:
    sqlite = dialect == "sqlite"

    def encode_time(value: Optional[datetime]) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        elif value.utcoffset():
            value = value.astimezone(timezone.utc)
        # SQLite keeps SQLAlchemy's "YYYY-MM-DD HH:MM:SS.ffffff" text in UTC; PostgreSQL takes the aware value.
        return value.replace(tzinfo=None).isoformat(" ", "microseconds") if sqlite else value

    def encode_json(value: Any) -> str:
        return msgspec.json.encode(value).decode()

    return encode_time, encode_json


def _unique_steps(report: RunReport) -> list[StepReport]:
    by_index: dict[int, StepReport] = {}
    for step in report.steps:
        if step.index in by_index:
            log.warning("Run %s reports step %s twice; keeping the last one", report.run_id, step.index)
        by_index[step.index] = step
    return list(by_index.values())


def _node_rows(
    run_pk: int,
    unique_steps: list[StepReport],
    encode_time: Callable[[Optional[datetime]], Any],
    encode_json: Callable[[Any], str],
) -> Iterator[tuple[Any, ...]]:
    for step in unique_steps:
        seen: dict[str, int] = {}
        for position, node in enumerate(step.nodes):
            seen[node.unique_id] = position
        if len(seen) != len(step.nodes):
            log.warning("Step %s reports some nodes twice; keeping the last result of each", step.index)
        for position, node in enumerate(step.nodes):
            if seen[node.unique_id] != position:
                continue
            yield (  # the order of NODE_COLUMNS
                run_pk,
                step.index,
                node.unique_id,
                node.name,
                node.resource_type,
                node.status,
                node.execution_time,
                node.rows_affected,
                node.message,
                node.failures,
                encode_json(node.depends_on),
                encode_time(node.started_at),
                encode_time(node.finished_at),
                node.materialization,
                encode_json(node.tags),
                node.package_name,
                node.code_hash,
                node.thread_id,
            )
