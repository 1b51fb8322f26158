"""Read a page of ``list_runs`` run by run, so one malformed run cannot hide the rest of the page.

``list_runs`` decodes a page as a whole: one run with a wrong type, or a string msgspec refuses (a lone
UTF-16 surrogate), fails the page, and a syncer would then see no new run ever again. Here each run is
validated on its own, keeping only what the lister needs; a bad one is skipped with a log line.

When the page was asked with ``include_related``, a run that came back with its steps is also kept
whole (decoded into the client's ``ApiRun``), so collecting it needs no GET of its own. dbt Cloud's
spec documents only ``trigger``, ``job`` and ``debug_logs`` for the list; a run listed without
``run_steps`` is therefore not kept whole, and the collector fetches it as before.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Optional

import msgspec

from airflow_provider_databand_dbt.dbt_cloud.models import ApiRun

log = logging.getLogger(__name__)


class ListedRun(msgspec.Struct):
    """The fields of a listed run that decide whether to collect it."""

    id: int
    status: int
    created_at: Optional[datetime] = None
    job_definition_id: Optional[int] = None


@dataclass(frozen=True)
class RunPage:
    """One page: the valid runs, how many entries it had in all (for paging) and the total count.

    ``whole`` holds the runs that came with their steps (see the module docstring), by id.
    """

    runs: list[ListedRun]
    size: int
    total_count: Optional[int]
    whole: dict[int, ApiRun]


def _listed(value: Any) -> ListedRun:
    run = msgspec.convert(value, ListedRun)
    if run.created_at is not None and run.created_at.tzinfo is None:
        run.created_at = run.created_at.replace(tzinfo=timezone.utc)
    return run


def _whole(value: Any, account_id: int) -> ApiRun | None:
    """The run as the collector needs it, or None (steps not sent, another account, a shape we refuse):
    the collector then fetches it with a GET of its own, which checks it as usual."""
    if not isinstance(value, dict) or not isinstance(value.get("run_steps"), list):
        return None
    try:
        run = msgspec.convert(value, ApiRun)
    except (msgspec.ValidationError, ValueError, TypeError):
        return None
    return run if run.account_id in (None, account_id) else None


def list_runs_page(
    client,
    account_id: int,
    *,
    limit: int,
    offset: int,
    order_by: str = "-id",
    status: Optional[list[int]] = None,
    job_id: Optional[int] = None,
    project_id: Optional[int] = None,
    environment_id: Optional[int] = None,
    id_gt: int | None = None,
    run_ids: Iterable[int] | None = None,
    include_related: Iterable[str] = (),
) -> RunPage:
    """``GET runs/`` through the client (retries, rate limit, typed errors), decoded run by run."""
    envelope = client.list_run_entries(
        account_id,
        limit=limit,
        offset=offset,
        order_by=order_by,
        status=status,
        job_id=job_id,
        project_id=project_id,
        environment_id=environment_id,
        id_gt=id_gt,
        run_ids=run_ids,
        include_related=include_related,
    )
    runs = []
    whole: dict[int, ApiRun] = {}
    for position, value in enumerate(envelope.data):
        try:
            listed = _listed(value)
            runs.append(listed)
            full = _whole(value, account_id) if include_related else None
            if full is not None and full.id == listed.id:
                whole[listed.id] = full
        except (msgspec.ValidationError, ValueError, TypeError) as exc:
            run_id = value.get("id") if isinstance(value, dict) else None
            log.warning(
                "account %s: skipping malformed run %r at position %d of a runs page: %s",
                account_id,
                run_id,
                offset + position,
                str(exc).encode("unicode_escape").decode()[:200],
            )
    pagination = envelope.extra.pagination if envelope.extra else None
    return RunPage(
        runs=runs, size=len(envelope.data), total_count=pagination.total_count if pagination else None, whole=whole
    )
