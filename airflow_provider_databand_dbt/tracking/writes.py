"""Saving a RunReport: one transaction that upserts the pipeline, run, steps and nodes and adds a source.

Tracking is idempotent: a run is one row keyed by (host, account id, run id), whoever saves it and in
whatever order. A finished run is never replaced by an in-progress snapshot; the database enforces
that with ``ON CONFLICT DO UPDATE ... WHERE``, and concurrent saves of one run are serialised
(PostgreSQL advisory lock, SQLite ``BEGIN IMMEDIATE``) so steps and nodes are never duplicated.
Values are first fitted to the columns (``fit.py``), and a later snapshot never removes stored
nodes (``merge.py``).
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Any, Optional

import msgspec
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from airflow_provider_databand_dbt.model.report import RunReport
from airflow_provider_databand_dbt.model.source import TrackingSource
from airflow_provider_databand_dbt.model.status import TERMINAL_LABELS
from airflow_provider_databand_dbt.tracking.bulk import step_row, unique_steps, write_nodes
from airflow_provider_databand_dbt.tracking.definitions import node_scope
from airflow_provider_databand_dbt.tracking.engine import advisory_xact_lock, upsert_statement
from airflow_provider_databand_dbt.tracking.fit import fit_report, merge_notes
from airflow_provider_databand_dbt.tracking.merge import merge_steps_and_nodes
from airflow_provider_databand_dbt.tracking.rows import SaveAction, SaveOutcome
from airflow_provider_databand_dbt.tracking.run_counts import count_move
from airflow_provider_databand_dbt.tracking.schema import pipelines, runs, sources, steps

log = logging.getLogger(__name__)

_PIPELINE_NAME_COLUMNS = ("name", "project_id", "project_name", "environment_id", "environment_name")
_RUN_KEY = ("host", "account_id", "run_id")


def save_report(conn: Connection, report: RunReport, source: TrackingSource) -> SaveOutcome:
    """Store one report inside the caller's write transaction; see :meth:`TrackingStore.save_report`."""
    now = datetime.now(timezone.utc)
    report = fit_report(report, conn.dialect.name)
    advisory_xact_lock(conn, f"run:{report.host}:{report.account_id}:{report.run_id}")
    key = (runs.c.host == report.host) & (runs.c.account_id == report.account_id) & (runs.c.run_id == report.run_id)
    existing = conn.execute(sa.select(runs.c.id, runs.c.status, runs.c.notes, runs.c.pipeline_id).where(key)).first()
    action: SaveAction
    if existing is None:
        action = "created"
    elif existing.status in TERMINAL_LABELS and report.status not in TERMINAL_LABELS:
        action = "kept_newer"
    else:
        action = "updated"

    if action != "kept_newer":
        pipeline_id = _upsert_pipeline(conn, report, now) if report.job_id is not None else None
        notes = merge_notes(existing.notes if existing is not None else None, report.notes)
        _upsert_run(conn, report, pipeline_id, now, notes)
        row = conn.execute(sa.select(runs.c.id, runs.c.updated_at).where(key)).one()
        run_pk = row.id
        if row.updated_at != now:
            # The database's own guard kept a finished run: trust it over our reading above.
            action = "kept_newer"
        else:
            count_move(conn, existing.pipeline_id if existing is not None else None, pipeline_id)
            if action == "updated":
                merge_steps_and_nodes(conn, run_pk, node_scope(pipeline_id, run_pk), report, now)
            else:
                _insert_steps_and_nodes(conn, run_pk, node_scope(pipeline_id, run_pk), report)
    else:
        assert existing is not None  # "kept_newer" is only chosen for an existing row
        run_pk = existing.id
    conn.execute(sources.insert().values(run_pk=run_pk, **msgspec.structs.asdict(source)))
    log.debug(
        "Run %s of account %s on %s: %s (run_pk %s)", report.run_id, report.account_id, report.host, action, run_pk
    )
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
        "retry_of_run_id": report.retry_of_run_id,
        "collected_at": report.collected_at,
        "summary": report.summary,
        "node_count": sum(len(step.nodes) for step in report.steps),
    }


def _upsert_run(
    conn: Connection, report: RunReport, pipeline_id: Optional[int], now: datetime, notes: list[str]
) -> None:
    values = {
        **run_values(report),
        "pipeline_id": pipeline_id,
        "notes": notes,
        "first_tracked_at": now,
        "updated_at": now,
    }
    stmt = upsert_statement(conn, runs).values(**values)
    updated = {col: stmt.excluded[col] for col in values if col not in _RUN_KEY and col != "first_tracked_at"}
    # A later snapshot without the trigger (a webhook, a listing) keeps the retry link already known.
    updated["retry_of_run_id"] = sa.func.coalesce(stmt.excluded.retry_of_run_id, runs.c.retry_of_run_id)
    terminal = sorted(TERMINAL_LABELS)
    stmt = stmt.on_conflict_do_update(
        index_elements=list(_RUN_KEY),
        set_=updated,
        # A finished run only ever gives way to another finished snapshot of itself.
        where=sa.or_(runs.c.status.not_in(terminal), stmt.excluded.status.in_(terminal)),
    )
    conn.execute(stmt)


def _insert_steps_and_nodes(conn: Connection, run_pk: int, scope: str, report: RunReport) -> None:
    report_steps = unique_steps(report)
    if report_steps:
        conn.execute(steps.insert(), [step_row(run_pk, step) for step in report_steps])
        write_nodes(conn, run_pk, scope, report_steps)
