"""How many runs each pipeline has, without recounting the whole store on every Pipelines page.

Counting a pipeline's runs reads every entry of its index range (8 ms per 20,000 runs on SQLite, on
every view of the Pipelines page). Runs are only added, never moved (re-tracking a run updates its
row in place), so the web view counts them all once, then tops the counts up with the runs whose row
id it has not seen yet: a primary-key range read whose cost is what was added, not what is stored.

Row ids are handed out before commit, so on PostgreSQL a slow transaction can commit a lower id after
a higher one was counted: there the top-up re-reads the last ``REWIND_IDS`` ids and adds those not
counted yet (SQLite has one writer at a time, so ids appear in order). Deleted runs (a lower smallest id) cause a recount, and so does the age of the counts, so any
other change is visible within ``RECOUNT_SECONDS``.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Iterable, Optional

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from airflow_provider_databand_dbt.tracking.schema import runs

log = logging.getLogger(__name__)

REWIND_IDS = 500
RECOUNT_SECONDS = 600.0


def count_by_pipeline(conn: Connection, pipeline_pks: Iterable[int]) -> dict[int, int]:
    """Exact run counts of the given pipelines (one index-only count; grows with their runs)."""
    ids = list(pipeline_pks)
    if not ids:
        return {}
    return dict(conn.execute(
        sa.select(runs.c.pipeline_id, sa.func.count()).where(runs.c.pipeline_id.in_(ids)).group_by(runs.c.pipeline_id)
    ).all())


class RunCounts:
    """Run counts per pipeline shared by the requests of one web view (thread-safe).

    :param recount_seconds: counts older than this are recounted from scratch.
    """

    def __init__(self, recount_seconds: float = RECOUNT_SECONDS) -> None:
        self.recount_seconds = recount_seconds
        self._lock = threading.Lock()
        self._counts: dict[Optional[int], int] = {}
        self._recent: dict[int, Optional[int]] = {}  # row id -> pipeline of the last REWIND_IDS ids counted
        self._lowest: Optional[int] = None
        self._highest = 0
        self._counted_at = float("-inf")

    def of(self, conn: Connection, pipeline_pks: Iterable[int]) -> dict[int, int]:
        """``{pipeline pk: runs}`` for the given pipelines, as of ``conn``'s snapshot (or a newer one)."""
        # Two queries: SQLite reads one end of the primary key for a lone min() or max(), not for both.
        lowest = conn.execute(sa.select(sa.func.min(runs.c.id))).scalar()
        highest = conn.execute(sa.select(sa.func.max(runs.c.id))).scalar()
        with self._lock:
            stale = time.monotonic() - self._counted_at > self.recount_seconds
            if stale or lowest != self._lowest:
                self._recount(conn, lowest, highest)
            elif highest is not None and highest > self._highest - _rewind(conn):
                self._top_up(conn, highest)
            return {pk: self._counts.get(pk, 0) for pk in pipeline_pks}

    def _recount(self, conn: Connection, lowest: Optional[int], highest: Optional[int]) -> None:
        started = time.perf_counter()
        self._counts = dict(conn.execute(
            sa.select(runs.c.pipeline_id, sa.func.count()).group_by(runs.c.pipeline_id)
        ).all())
        self._recent = dict(conn.execute(
            sa.select(runs.c.id, runs.c.pipeline_id).where(runs.c.id > (highest or 0) - _rewind(conn))
        ).all())
        self._lowest, self._highest = lowest, highest or 0
        self._counted_at = time.monotonic()
        log.debug("Counted the runs of %s pipelines in %.1f ms", len(self._counts),
                  (time.perf_counter() - started) * 1000)

    def _top_up(self, conn: Connection, highest: int) -> None:
        rewind = _rewind(conn)
        for run_pk, pipeline_pk in conn.execute(
            sa.select(runs.c.id, runs.c.pipeline_id).where(runs.c.id > self._highest - rewind)
        ):
            if run_pk not in self._recent:
                self._recent[run_pk] = pipeline_pk
                self._counts[pipeline_pk] = self._counts.get(pipeline_pk, 0) + 1
        self._highest = max(self._highest, highest)
        self._recent = {pk: pipeline for pk, pipeline in self._recent.items() if pk > self._highest - rewind}


def _rewind(conn: Connection) -> int:
    return 0 if conn.dialect.name == "sqlite" else REWIND_IDS
