"""What the rules hand to the channels: one change of one incident, ready to be queued and sent.

The rules (``alerts.rules``) decide *whether* something changed; the outbox and the channels
(``alerts.outbox``, ``alerts.channels``) decide *how* people hear about it. This struct is the only
thing they share, so either side can change without the other.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal, Optional

import msgspec

RuleName = Literal[
    "run_failed",
    "new_failure",
    "duration_regression",
    "source_freshness",
    "row_count_anomaly",
]
"""A rule; "still failing" and "recovered" are not rules but changes (``updated``, ``resolved``) of an incident."""

IncidentChange = Literal["opened", "updated", "resolved"]
Severity = Literal["info", "warning", "error"]
SEVERITY_ORDER: dict[str, int] = {"info": 0, "warning": 1, "error": 2}


class PipelineRef(msgspec.Struct, frozen=True, kw_only=True):
    """The dbt Cloud job an incident belongs to (a pipeline in the store)."""

    host: str
    account_id: int
    job_id: int
    job_name: Optional[str] = None
    project_name: Optional[str] = None
    environment_name: Optional[str] = None


class AlertNotification(msgspec.Struct, frozen=True, kw_only=True):
    """One change of one incident: opened, updated (still failing) or resolved (recovered).

    :param key: unique per (incident, change, run); the outbox queues a key once, so two trackers
        of the same run never send the same notification twice.
    :param node_unique_id: the node the incident is about, or None for a run-level incident.
    :param skipped_downstream: unique ids of nodes skipped because of this failure (may be empty).
    :param run_page_url: our web view's page of the run, when a base URL is configured.
    :param dbt_cloud_url: the run's page in dbt Cloud.
    """

    key: str
    incident_id: int
    rule: RuleName
    change: IncidentChange
    severity: Severity
    pipeline: PipelineRef
    run_id: int
    title: str
    occurred_at: datetime
    node_unique_id: Optional[str] = None
    node_name: Optional[str] = None
    resource_type: Optional[str] = None
    message: Optional[str] = None
    skipped_downstream: tuple[str, ...] = ()
    run_page_url: Optional[str] = None
    dbt_cloud_url: Optional[str] = None
