"""Read a page of ``list_runs`` run by run, so one malformed run cannot hide the rest of the page.

``list_runs`` decodes a page as a whole: one run with a wrong type, or a string msgspec refuses (a lone
UTF-16 surrogate), fails the page, and a syncer would then see no new run ever again. Here each run is
validated on its own, keeping only what the lister needs; a bad one is skipped with a log line.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Optional

import msgspec

log = logging.getLogger(__name__)


class ListedRun(msgspec.Struct):
    """The fields of a listed run that decide whether to collect it."""

    id: int
    status: int
    created_at: Optional[datetime] = None
    job_definition_id: Optional[int] = None


@dataclass(frozen=True)
class RunPage:
    """One page: the valid runs, how many entries it had in all (for paging) and the total count."""

    runs: list[ListedRun]
    size: int
    total_count: Optional[int]


def _listed(value: Any) -> ListedRun:
    run = msgspec.convert(value, ListedRun)
    if run.created_at is not None and run.created_at.tzinfo is None:
        run.created_at = run.created_at.replace(tzinfo=timezone.utc)
    return run


def list_runs_page(client, account_id: int, *, limit: int, offset: int, order_by: str = "-id",
                   status: Optional[list[int]] = None, job_id: Optional[int] = None,
                   project_id: Optional[int] = None, environment_id: Optional[int] = None) -> RunPage:
    """``GET runs/`` through the client (retries, rate limit, typed errors), decoded run by run."""
    envelope = client.list_run_entries(account_id, limit=limit, offset=offset, order_by=order_by, status=status,
                                       job_id=job_id, project_id=project_id, environment_id=environment_id)
    runs = []
    for position, value in enumerate(envelope.data):
        try:
            runs.append(_listed(value))
        except (msgspec.ValidationError, ValueError, TypeError) as exc:
            run_id = value.get("id") if isinstance(value, dict) else None
            log.warning("account %s: skipping malformed run %r at position %d of a runs page: %s",
                        account_id, run_id, offset + position, str(exc).encode("unicode_escape").decode()[:200])
    pagination = envelope.extra.pagination if envelope.extra else None
    return RunPage(runs=runs, size=len(envelope.data), total_count=pagination.total_count if pagination else None)
