"""The JSON bodies dbt Cloud's webhooks carry, built from emulated runs, and their signature.

Shaped like the examples of docs.getdbt.com/docs/deploy/webhooks: ``accountId`` is a number, the ids
in ``data`` are strings, ``runStatusMessage`` is the text ``"None"`` when there is no message, and
``job.run.errored`` carries ``runErroredAt`` where ``job.run.completed`` carries ``runFinishedAt``.
The ``Authorization`` header is the hex HMAC-SHA256 of the raw body, keyed with the webhook's secret.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import string
import time
from datetime import datetime, timezone
from typing import Any

from airflow_provider_databand_dbt.testing.emulator_payloads import EnvironmentRecord, JobRecord, ProjectRecord
from airflow_provider_databand_dbt.testing.emulator_runs import CANCELLED, ERROR, SUCCESS, RunRecord, RunSnapshot

STARTED = "job.run.started"
COMPLETED = "job.run.completed"
ERRORED = "job.run.errored"
EVENT_TYPES = (STARTED, COMPLETED, ERRORED)

# runStatus as the documented examples write it; an errored event says "Errored", not "Error".
_COMPLETED_STATUS = {SUCCESS: "Success", ERROR: "Error", CANCELLED: "Cancelled"}
_ALPHABET = string.ascii_letters + string.digits


def new_id(prefix: str, length: int) -> str:
    """A random id in dbt Cloud's style (``wev_`` + 27 characters for events, ``wsu_`` for webhooks)."""
    return prefix + "".join(secrets.choice(_ALPHABET) for _ in range(length))


def sign(body: bytes, secret: str) -> str:
    """The ``Authorization`` header dbt Cloud sends: hex HMAC-SHA256 of the raw body."""
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def _second(ts: float | None) -> str | None:
    """``2023-01-31T19:28:07Z``: the run times of a webhook body, to the second."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _nanosecond(ns: int) -> str:
    """``2023-01-31T19:28:15.742843678Z``: the event's own timestamp, to the nanosecond."""
    seconds, fraction = divmod(ns, 1_000_000_000)
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S") + f".{fraction:09d}Z"


def run_status_text(event_type: str, status: int) -> str:
    if event_type == STARTED:
        return "Running"
    if event_type == ERRORED:
        return "Errored"
    return _COMPLETED_STATUS.get(status, "Running")


def event_body(
    event_type: str,
    *,
    webhook_id: str,
    webhook_name: str,
    run: RunRecord,
    snap: RunSnapshot,
    job: JobRecord | None,
    environment: EnvironmentRecord | None,
    project: ProjectRecord | None,
    status_message: str | None,
) -> dict[str, Any]:
    """One event for one webhook subscription (each subscription gets its own ``eventId``)."""
    data: dict[str, Any] = {
        "jobId": str(run.job_id),
        "jobName": job.name if job else "",
        "runId": str(run.id),
        "environmentId": str(run.environment_id),
        "environmentName": environment.name if environment else "",
        "dbtVersion": run.dbt_version or "",
        "projectName": project.name if project else "",
        "projectId": str(run.project_id),
        "runStatus": run_status_text(event_type, snap.status),
        "runStatusCode": snap.status,
        # dbt Cloud writes Python's None as text here.
        "runStatusMessage": str(status_message),
        "runReason": run.trigger.cause,
        "runStartedAt": _second(snap.started_at),
    }
    if event_type == COMPLETED:
        data["runFinishedAt"] = _second(snap.finished_at)
    elif event_type == ERRORED:
        data["runErroredAt"] = _second(snap.finished_at)
    return {
        "accountId": run.account_id,
        "webhooksID": webhook_id,
        "eventId": new_id("wev_", 27),
        "timestamp": _nanosecond(time.time_ns()),
        "eventType": event_type,
        "webhookName": webhook_name,
        "data": data,
    }


def encode(body: dict[str, Any]) -> bytes:
    """The raw bytes sent and signed (compact JSON, as a receiver must verify the exact bytes)."""
    return json.dumps(body, separators=(",", ":")).encode("utf-8")
