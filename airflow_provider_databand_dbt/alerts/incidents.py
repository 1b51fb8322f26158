"""Turn the rules' verdicts into incident changes in the store, and say which notifications they give.

One open incident per (rule, pipeline, node or run): the database enforces it with the unique
``open_key`` (set while open, NULL once resolved). A finding for an open incident updates it
(still failing); a clear verdict resolves it (recovered); a finding with none open opens one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Optional

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from airflow_provider_databand_dbt.alerts.facts import PipelineFacts
from airflow_provider_databand_dbt.alerts.notification import AlertNotification, IncidentChange
from airflow_provider_databand_dbt.alerts.rules import Finding, Subject, Verdicts
from airflow_provider_databand_dbt.alerts.settings import RuleSettings
from airflow_provider_databand_dbt.tracking.schema import alert_incidents

OPEN = "open"
RESOLVED = "resolved"


def open_key(pipeline_id: int, subject: Subject) -> str:
    """The value of ``open_key`` while the incident is open: unique per (rule, pipeline, node or run)."""
    rule, node_id = subject
    return f"{rule}:{pipeline_id}:{node_id or 0}"


def apply(
    conn: Connection,
    facts: PipelineFacts,
    verdicts: Verdicts,
    settings: RuleSettings,
    *,
    at: datetime,
    run_page_url: Optional[str] = None,
) -> list[AlertNotification]:
    """Open, update and resolve the pipeline's incidents for one evaluated run; the notifications to publish.

    :param at: when it happened (the run's end), written as opened/updated/resolved time.
    """
    changes = _Changes(facts, at, run_page_url)
    open_rows = {
        (row.rule, row.node_id): row
        for row in conn.execute(
            sa.select(alert_incidents).where(
                alert_incidents.c.pipeline_id == facts.pipeline_id, alert_incidents.c.open_key.is_not(None)
            )
        )
    }
    for finding in verdicts.findings:
        row = open_rows.get(finding.subject)
        if row is None:
            incident_id = _open(conn, facts, finding, at)
            changes.add(incident_id, "opened", finding)
            continue
        conn.execute(
            alert_incidents.update()
            .where(alert_incidents.c.id == row.id)
            .values(
                severity=finding.severity,
                title=finding.title,
                message=finding.message,
                last_run_id=facts.run.run_id,
                occurrences=alert_incidents.c.occurrences + 1,
                updated_at=at,
            )
        )
        if settings.notify_updates:
            changes.add(row.id, "updated", finding)
    found = {f.subject for f in verdicts.findings}
    for subject in sorted(verdicts.clear - found, key=str):
        row = open_rows.get(subject)
        if row is None:
            continue
        conn.execute(
            alert_incidents.update()
            .where(alert_incidents.c.id == row.id)
            .values(status=RESOLVED, open_key=None, resolved_at=at, resolved_run_id=facts.run.run_id, updated_at=at)
        )
        changes.add(row.id, "resolved", _as_finding(row), title=f"Resolved: {row.title}")
    return changes.notifications


def _open(conn: Connection, facts: PipelineFacts, finding: Finding, at: datetime) -> int:
    result = conn.execute(
        alert_incidents.insert().values(
            rule=finding.rule,
            pipeline_id=facts.pipeline_id,
            node_id=finding.node_id,
            node_unique_id=finding.node_unique_id,
            node_name=finding.node_name,
            resource_type=finding.resource_type,
            open_key=open_key(facts.pipeline_id, finding.subject),
            status=OPEN,
            severity=finding.severity,
            title=finding.title,
            message=finding.message,
            first_run_id=facts.run.run_id,
            last_run_id=facts.run.run_id,
            occurrences=1,
            opened_at=at,
            updated_at=at,
        )
    )
    key = result.inserted_primary_key
    assert key is not None  # an INSERT of one row always has one
    return int(key[0])


def _as_finding(row) -> Finding:
    """An open incident's row as the finding that opened it (for the resolved notification)."""
    return Finding(
        rule=row.rule,
        node_id=row.node_id,
        severity=row.severity,
        title=row.title,
        message=row.message,
        node_unique_id=row.node_unique_id,
        node_name=row.node_name,
        resource_type=row.resource_type,
    )


class _Changes:
    """The notifications of one evaluation, built from the run and pipeline they share."""

    def __init__(self, facts: PipelineFacts, at: datetime, run_page_url: Optional[str]) -> None:
        self.facts = facts
        self.at = at
        self.run_page_url = run_page_url
        self.notifications: list[AlertNotification] = []

    def add(self, incident_id: int, change: IncidentChange, finding: Finding, *, title: Optional[str] = None) -> None:
        run = self.facts.run
        self.notifications.append(
            AlertNotification(
                key=f"incident-{incident_id}:{change}:run-{run.run_id}",
                incident_id=incident_id,
                rule=finding.rule,
                change=change,
                severity=finding.severity,
                pipeline=self.facts.pipeline,
                run_id=run.run_id,
                title=title or finding.title,
                occurred_at=self.at,
                node_unique_id=finding.node_unique_id,
                node_name=finding.node_name,
                resource_type=finding.resource_type,
                message=None if change == "resolved" else finding.message,
                skipped_downstream=finding.skipped_downstream,
                run_page_url=self.run_page_url,
                dbt_cloud_url=run.url,
            )
        )
