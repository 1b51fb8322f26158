"""Evaluate the rules for one stored run, once: inside the caller's write transaction, idempotent per run.

Every tracker of a run (operator, monitor, webhook, CLI) calls this after saving it, possibly at the
same time. The pipeline's row in ``alert_evaluation`` remembers the newest run evaluated; a run that
is not finished, or not newer (by created_at, then run id), changes nothing. Concurrent evaluations
of one pipeline are serialised (PostgreSQL advisory lock, SQLite ``BEGIN IMMEDIATE``), so the second
sees the first's evaluation and stops: one incident, one "opened" notification.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Callable, Optional

import msgspec
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from airflow_provider_databand_dbt.alerts import history, incidents, rules
from airflow_provider_databand_dbt.alerts.notification import AlertNotification
from airflow_provider_databand_dbt.alerts.settings import RuleSettings
from airflow_provider_databand_dbt.model.status import is_terminal
from airflow_provider_databand_dbt.tracking.engine import advisory_xact_lock, upsert_statement
from airflow_provider_databand_dbt.tracking.schema import alert_evaluations

log = logging.getLogger(__name__)

Publish = Callable[[Connection, Sequence[AlertNotification]], None]


class Evaluated(msgspec.Struct, frozen=True, kw_only=True):
    """What one call did: ``skipped`` says why nothing was evaluated (None: evaluated)."""

    notifications: tuple[AlertNotification, ...] = ()
    skipped: Optional[str] = None


def evaluate_stored_run(
    conn: Connection,
    run_pk: int,
    settings: RuleSettings,
    publish: Publish,
    *,
    run_page_url: Optional[Callable[[int], Optional[str]]] = None,
) -> Evaluated:
    """Evaluate the rules for the stored run ``run_pk`` unless it is unfinished or already superseded.

    :param publish: gets the notifications inside this transaction (the outbox's ``enqueue``).
    :param run_page_url: the web view's page of a run id, or None.
    """
    run = history.stored_run(conn, run_pk)
    if run is None or run.pipeline_id is None:
        return Evaluated(skipped="no pipeline")
    if not is_terminal(run.status):
        return Evaluated(skipped="not finished")
    # PostgreSQL runs at READ COMMITTED (its default, kept by the store): each statement after the lock
    # sees what the evaluation that held it committed.
    advisory_xact_lock(conn, f"alerts:pipeline:{run.pipeline_id}")
    if _already_evaluated(conn, run):
        return Evaluated(skipped="already evaluated")
    facts = history.pipeline_facts(conn, run, settings.window)
    verdicts = rules.evaluate(facts, settings)
    at = run.finished_at or run.created_at or datetime.now(timezone.utc)
    page = run_page_url(run.run_id) if run_page_url is not None else None
    notifications = incidents.apply(conn, facts, verdicts, settings, at=at, run_page_url=page)
    _remember(conn, run)
    if notifications:
        publish(conn, notifications)
        log.info(
            "alerts: run %s of pipeline %s gave %s notification(s)", run.run_id, run.pipeline_id, len(notifications)
        )
    return Evaluated(notifications=tuple(notifications))


def _order(created_at: Optional[datetime], run_id: int) -> tuple[datetime, int]:
    return (created_at or datetime.min.replace(tzinfo=timezone.utc), run_id)


def _already_evaluated(conn: Connection, run: history.StoredRun) -> bool:
    row = conn.execute(
        sa.select(alert_evaluations.c.run_id, alert_evaluations.c.run_created_at).where(
            alert_evaluations.c.pipeline_id == run.pipeline_id
        )
    ).first()
    return row is not None and _order(row.run_created_at, row.run_id) >= _order(run.created_at, run.run_id)


def _remember(conn: Connection, run: history.StoredRun) -> None:
    values = {
        "pipeline_id": run.pipeline_id,
        "run_pk": run.run_pk,
        "run_id": run.run_id,
        "run_created_at": run.created_at,
        "evaluated_at": datetime.now(timezone.utc),
    }
    statement = upsert_statement(conn, alert_evaluations).values(**values)
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=[alert_evaluations.c.pipeline_id],
            set_={k: statement.excluded[k] for k in values if k != "pipeline_id"},
        )
    )
