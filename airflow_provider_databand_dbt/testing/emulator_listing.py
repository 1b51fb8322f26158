"""Listing runs the way GET accounts/{id}/runs/ does: filters, orderings, one page at a time.

Runs are kept in id order per account and per job, so the common ``order_by=-id`` page is a
slice; other orderings and filters walk the matching runs once.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass

from airflow_provider_databand_dbt.testing.emulator_runs import RunRecord, RunSnapshot, evaluate
from airflow_provider_databand_dbt.testing.emulator_state import EmulatorState
from airflow_provider_databand_dbt.testing.scenarios import status_code

RUN_ORDERINGS = ("id", "-id", "created_at", "-created_at")


@dataclass(frozen=True)
class RunFilters:
    """Filters of the list-runs endpoint; None means "any"."""

    job_id: int | None = None
    project_id: int | None = None
    environment_id: int | None = None
    statuses: frozenset[int] | None = None
    id_gt: int | None = None
    ids: frozenset[int] | None = None

    @property
    def narrows(self) -> bool:
        """Whether a filter beyond the job applies (the page is then not a plain slice of the id list)."""
        return (
            self.project_id is not None
            or self.environment_id is not None
            or bool(self.statuses)
            or self.id_gt is not None
            or self.ids is not None
        )


def list_runs(
    state: EmulatorState,
    account_id: int,
    filters: RunFilters,
    order_by: str,
    limit: int,
    offset: int,
) -> tuple[list[tuple[RunRecord, RunSnapshot]], int, float]:
    """One page of runs with their snapshots, the total matching count and the evaluation time."""
    if order_by not in RUN_ORDERINGS:
        raise ValueError(f"order_by must be one of {', '.join(RUN_ORDERINGS)}")
    with state.lock:
        now = state.clock()
        if filters.job_id is not None:
            job = state.jobs.get(filters.job_id)
            ids = state.job_runs.get(filters.job_id, []) if job and job.account_id == account_id else []
        else:
            ids = state.account_runs.get(account_id, [])
        records: list[RunRecord] | None = None
        snaps: dict[int, RunSnapshot] = {}
        if filters.narrows:
            records = []
            for rid in _candidate_ids(ids, filters):
                run = state.runs[rid]
                if filters.project_id is not None and run.project_id != filters.project_id:
                    continue
                if filters.environment_id is not None and run.environment_id != filters.environment_id:
                    continue
                if filters.statuses:
                    snap = evaluate(run, now)
                    if snap.status not in filters.statuses:
                        continue
                    snaps[rid] = snap
                records.append(run)
        if order_by in ("id", "-id") and records is None:
            total = len(ids)
            if order_by == "id":
                page_ids = ids[offset : offset + limit]
            else:
                end = max(total - offset, 0)
                page_ids = ids[max(end - limit, 0) : end][::-1]
            page = [state.runs[i] for i in page_ids]
        else:
            pool = records if records is not None else [state.runs[i] for i in ids]
            if order_by == "-id":
                pool = pool[::-1]
            elif order_by.endswith("created_at"):
                pool = sorted(pool, key=lambda r: (r.created_at, r.id), reverse=order_by.startswith("-"))
            total = len(pool)
            page = pool[offset : offset + limit]
        return [(r, snaps.get(r.id) or evaluate(r, now)) for r in page], total, now


def _candidate_ids(ids: list[int], filters: RunFilters) -> Iterable[int]:
    """The ids left by the id filters (``id__gt`` by bisection on the sorted list, ``pk__in`` by set)."""
    if filters.id_gt is not None:
        ids = ids[bisect.bisect_right(ids, filters.id_gt) :]
    if filters.ids is not None:
        return [rid for rid in ids if rid in filters.ids]
    return ids


def parse_ids(values: Iterable[str]) -> frozenset[int]:
    """``pk__in`` values: a JSON list ``[1,2]``, comma separated ``1,2``, or the parameter repeated."""
    ids: set[int] = set()
    for value in values:
        for part in value.strip().strip("[]").split(","):
            part = part.strip().strip('"')
            if part:
                ids.add(int(part))
    return frozenset(ids)


def parse_statuses(values: Iterable[str]) -> frozenset[int]:
    """Status filter values: ``10``, ``success``, ``[10,20]`` or ``10,20``."""
    codes: set[int] = set()
    for value in values:
        for part in value.strip().strip("[]").split(","):
            part = part.strip().strip('"')
            if part:
                codes.add(status_code(part))
    return frozenset(codes)
