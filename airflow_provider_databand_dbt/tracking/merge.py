"""Updating a stored run from a later snapshot: add and update what it read, never remove what it could not.

A finished run collected again after dbt Cloud's artifact retention (404), or while artifacts fail
(5xx, truncation), must keep the node results an earlier collection stored. So steps and nodes are
upserted by their keys and nothing is deleted; a step whose stored nodes could not be re-read keeps
its earlier ``artifacts_missing`` and records the failed attempt in ``reread_failed``; when the
manifest could not be read, stored node definitions (name, type, depends_on, tags...) are kept and
only the result columns are updated. The run's ``summary`` and ``node_count`` are then recounted
from what is stored.
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import datetime
from typing import Any, Optional

import msgspec
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from airflow_provider_databand_dbt.collector.artifacts import MANIFEST
from airflow_provider_databand_dbt.model.report import RereadFailure, RunReport, StepReport
from airflow_provider_databand_dbt.tracking.bulk import step_row, unique_steps, write_nodes
from airflow_provider_databand_dbt.tracking.engine import upsert_statement
from airflow_provider_databand_dbt.tracking.schema import node_results, runs, steps

log = logging.getLogger(__name__)

_STEP_KEY = ("run_pk", "step_index")


def merge_steps_and_nodes(conn: Connection, run_pk: int, scope: str, report: RunReport, now: datetime) -> None:
    """Upsert the report's steps and nodes into a stored run, then recount its nodes."""
    report_steps = unique_steps(report)
    stored_missing = {
        row.step_index: row.artifacts_missing or []
        for row in conn.execute(
            sa.select(steps.c.step_index, steps.c.artifacts_missing).where(steps.c.run_pk == run_pk)
        )
    }
    kept_nodes: dict[int, int] = dict(
        conn.execute(
            sa.select(node_results.c.step_index, sa.func.count())
            .where(node_results.c.run_pk == run_pk)
            .group_by(node_results.c.step_index)
        ).all()
    )
    rows = [
        _merged_step(report.run_id, run_pk, step, stored_missing.get(step.index), kept_nodes.get(step.index, 0), now)
        for step in report_steps
    ]
    if rows:
        stmt = upsert_statement(conn, steps)
        stmt = stmt.on_conflict_do_update(
            index_elements=list(_STEP_KEY),
            set_={name: stmt.excluded[name] for name in rows[0] if name not in _STEP_KEY},
        )
        conn.execute(stmt, rows)
    write_nodes(conn, run_pk, scope, report_steps, "results" if manifest_unread(report) else "replace")
    _recount(conn, run_pk)


def manifest_unread(report: RunReport) -> bool:
    """Whether this snapshot's nodes lack their manifest definitions (the manifest was missing or invalid)."""
    return any(item.artifact == MANIFEST for step in report.steps for item in step.artifacts_missing)


def _merged_step(
    run_id: int, run_pk: int, step: StepReport, stored_missing: Optional[list], kept: int, now: datetime
) -> dict[str, Any]:
    """The step's new row; when its stored nodes could not be re-read, the earlier state plus the failed attempt."""
    if stored_missing is None or not kept or not step.artifacts_missing:
        return step_row(run_pk, step)
    known = {item.get("artifact") for item in stored_missing if isinstance(item, dict)}
    failed = [item for item in step.artifacts_missing if item.artifact not in known]
    if not failed:
        return step_row(run_pk, step)
    log.warning(
        "Run %s step %s: could not re-read %s; keeping the %s node results stored earlier",
        run_id,
        step.index,
        ", ".join(item.artifact for item in failed),
        kept,
    )
    failure = msgspec.to_builtins(RereadFailure(at=now, artifacts_missing=failed))
    return {**step_row(run_pk, step, failure), "artifacts_missing": stored_missing}


def _recount(conn: Connection, run_pk: int) -> None:
    counts: Counter[str] = Counter(
        dict(
            conn.execute(
                sa.select(node_results.c.status, sa.func.count())
                .where(node_results.c.run_pk == run_pk)
                .group_by(node_results.c.status)
            ).all()
        )
    )
    conn.execute(runs.update().where(runs.c.id == run_pk).values(summary=dict(counts), node_count=sum(counts.values())))
