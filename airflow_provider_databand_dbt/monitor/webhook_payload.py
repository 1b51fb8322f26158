"""Checking one dbt Cloud webhook delivery: its signature, then its JSON, before anything is queued.

dbt Cloud signs the raw body: ``Authorization`` is the hex HMAC-SHA256 of it with the webhook's secret.
The payload (docs.getdbt.com, "Webhooks for your jobs")::

    {"accountId": 1, "eventId": "wev_...", "eventType": "job.run.completed", "timestamp": "...",
     "webhookName": "...", "data": {"jobId": "123", "runId": "12345", "environmentId": "1234",
     "runStatus": "Success", ...}}

Ids in ``data`` are strings. The account id is read from the top level or from ``data``, as int or string.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from typing import Any, Optional

STARTED = "job.run.started"
COMPLETED = "job.run.completed"
ERRORED = "job.run.errored"
EVENT_TYPES = (STARTED, COMPLETED, ERRORED)
MAX_EVENT_ID = 255
_ID = re.compile(r"[0-9]{1,18}")


class Refused(Exception):
    """A delivery answered with an error status and never queued; ``reason`` is a bounded metric label."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class Delivery:
    """The fields of a valid payload that the monitor uses."""

    event_id: str
    event_type: str
    account_id: int
    run_id: int
    job_id: Optional[int]
    project_id: Optional[int]
    environment_id: Optional[int]


def signature(secret: bytes, body: bytes) -> str:
    """The hex HMAC-SHA256 dbt Cloud puts in ``Authorization``."""
    return hmac.new(secret, body, hashlib.sha256).hexdigest()


def check_signature(secret: bytes, body: bytes, header: Optional[str]) -> None:
    """Constant-time comparison of ``Authorization`` with the body's signature.

    :raises Refused: 401 when the header is missing or does not match.
    """
    if not header or not header.strip():
        raise Refused(401, "signature", "missing Authorization header (the HMAC-SHA256 of the body)")
    given = header.strip().lower().encode("utf-8", "replace")
    if not hmac.compare_digest(signature(secret, body).encode("ascii"), given):
        raise Refused(401, "signature", "the Authorization header does not match the body's HMAC-SHA256")


def _id(value: Any, what: str, *, required: bool = True) -> Optional[int]:
    """A dbt Cloud id sent as a string of digits (or a JSON integer)."""
    if value is None and not required:
        return None
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 10**18:
        return value
    if isinstance(value, str) and _ID.fullmatch(value.strip()) and int(value) > 0:
        return int(value)
    if value is None:
        raise Refused(400, "malformed", f"{what} is missing")
    raise Refused(400, "malformed", f"{what} is not a dbt Cloud id")


def parse_delivery(body: bytes, account_id: int) -> Delivery:
    """The delivery's fields, checked against the syncer's account.

    :raises Refused: 400 ``malformed`` (not JSON, a field missing or of the wrong kind) or ``wrong_account``.
    """
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise Refused(400, "malformed", "the body is not JSON") from None
    if not isinstance(payload, dict):
        raise Refused(400, "malformed", "the body is not a JSON object")
    event_id, event_type, data = payload.get("eventId"), payload.get("eventType"), payload.get("data")
    if not isinstance(event_id, str) or not event_id.strip() or len(event_id) > MAX_EVENT_ID:
        raise Refused(400, "malformed", "eventId is missing or not a string of at most 255 characters")
    if not isinstance(event_type, str) or not event_type:
        raise Refused(400, "malformed", "eventType is missing")
    if not isinstance(data, dict):
        raise Refused(400, "malformed", "data is missing or not an object")
    accounts = {_id(where.get("accountId"), "accountId", required=False) for where in (payload, data)} - {None}
    if not accounts:
        raise Refused(400, "malformed", "accountId is missing")
    if accounts != {account_id}:
        raise Refused(400, "wrong_account", f"the event is for another account than this syncer's {account_id}")
    return Delivery(
        event_id=event_id.strip(),
        event_type=event_type,
        account_id=account_id,
        run_id=_id(data.get("runId"), "data.runId") or 0,
        job_id=_id(data.get("jobId"), "data.jobId", required=False),
        project_id=_id(data.get("projectId"), "data.projectId", required=False),
        environment_id=_id(data.get("environmentId"), "data.environmentId", required=False),
    )
