"""A syncer's durable state (cursor, lease in the store) and its bounded in-memory view of active runs."""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Iterable
from typing import Optional

from airflow_provider_databand_dbt.monitor.owner import holder_is_dead
from airflow_provider_databand_dbt.tracking.rows import MonitorCursor

log = logging.getLogger(__name__)

# Runs stuck "running" for ever must not grow memory or the cursor row without bound.
MAX_ACTIVE_RUNS = 5000


class ActiveRuns:
    """Runs seen queued/starting/running, with the status we last stored (None: unknown after a restart).

    Bounded: past :data:`MAX_ACTIVE_RUNS` the oldest run ids are dropped with a warning.
    """

    def __init__(self, limit: int = MAX_ACTIVE_RUNS) -> None:
        self._status: OrderedDict[int, Optional[int]] = OrderedDict()
        self._limit = limit

    def __len__(self) -> int:
        return len(self._status)

    def __contains__(self, run_id: int) -> bool:
        return run_id in self._status

    def ids(self) -> list[int]:
        return sorted(self._status)

    def replace(self, run_ids: Iterable[int]) -> None:
        self._status = OrderedDict((run_id, None) for run_id in sorted(run_ids))
        self._trim()

    def restore(self, run_ids: Iterable[int]) -> None:
        """Align with the stored cursor, keeping the statuses we already know."""
        known = self._status
        self._status = OrderedDict((run_id, known.get(run_id)) for run_id in sorted(run_ids))
        self._trim()

    def add(self, run_id: int, status: int) -> None:
        self._status[run_id] = status
        self._trim()

    def discard(self, run_id: int) -> None:
        self._status.pop(run_id, None)

    def status_changed(self, run_id: int, status: int) -> bool:
        """True when ``status`` differs from what we stored (always True when we do not know)."""
        return self._status.get(run_id) != status

    def _trim(self) -> None:
        if len(self._status) <= self._limit:
            return
        dropped = sorted(self._status)[: len(self._status) - self._limit]
        for run_id in dropped:
            del self._status[run_id]
        log.warning("more than %d runs in progress; no longer re-polling the oldest: %s", self._limit, dropped[:10])


class CursorState:
    """The syncer's cursor, loaded from and saved to the tracking store.

    :param store: the ``TrackingStore``.
    :param syncer: the syncer name (the cursor's key).
    :param host: dbt Cloud host; a stored cursor for another host or account is ignored (it is a new syncer).
    :param account_id: dbt Cloud account id.
    """

    def __init__(self, store, syncer: str, host: str, account_id: int) -> None:
        self.store = store
        self.syncer = syncer
        self.host = host
        self.account_id = account_id
        self.last_run_id = 0
        self.active_run_ids: list[int] = []
        self.backfill_done = False

    def load(self) -> bool:
        """Read the stored cursor; False when there is none (first start) or it belongs to another account."""
        cursor = self.store.get_cursor(self.syncer)
        if cursor is None:
            return False
        if cursor.host != self.host or cursor.account_id != self.account_id:
            log.warning(
                "syncer %s: the stored cursor is for account %s on %s, now configured for account %s on %s; "
                "starting afresh",
                self.syncer,
                cursor.account_id,
                cursor.host,
                self.account_id,
                self.host,
            )
            return False
        self.set(last_run_id=cursor.last_run_id or 0, backfill_done=cursor.backfill_done)
        self.active_run_ids = list(cursor.active_run_ids)
        return True

    def set(self, *, last_run_id: int, backfill_done: Optional[bool] = None) -> None:
        """Change the in-memory cursor only (saved with the next :meth:`save`)."""
        self.last_run_id = last_run_id
        if backfill_done is not None:
            self.backfill_done = backfill_done

    def save(self, *, last_run_id: int, active: list[int], backfill_done: Optional[bool] = None) -> None:
        self.set(last_run_id=last_run_id, backfill_done=backfill_done)
        self.active_run_ids = list(active)
        self.store.save_cursor(
            MonitorCursor(
                syncer=self.syncer,
                host=self.host,
                account_id=self.account_id,
                last_run_id=self.last_run_id,
                active_run_ids=self.active_run_ids,
                backfill_done=self.backfill_done,
            )
        )


class Lease:
    """This process's claim on a syncer in the store, so two monitors never poll the same account.

    :param ttl: seconds the lease stays ours without renewal; renewed every iteration and during long
        catch-ups once a third of it has passed.
    """

    def __init__(self, store, syncer: str, owner: str, ttl: float) -> None:
        self.store = store
        self.syncer = syncer
        self.owner = owner
        self.ttl = ttl
        self.held = False
        self._renewed_at = 0.0

    def acquire(self) -> bool:
        """Take or renew the lease; False while another live monitor holds it.

        A holder that provably died on this host (see :mod:`monitor.owner`) is replaced at once.
        """
        self.held = bool(self.store.try_acquire_lease(self.syncer, self.owner, self.ttl))
        if not self.held:
            self.held = self._take_over_dead_holder()
        if self.held:
            self._renewed_at = time.monotonic()
        return self.held

    def _take_over_dead_holder(self) -> bool:
        holder = self.store.lease_holder(self.syncer)
        if holder is None or holder == self.owner or not holder_is_dead(holder):
            return False
        if not self.store.take_over_lease(self.syncer, holder, self.owner, self.ttl):
            return False
        log.info(
            "syncer %s: took over the lease of %s, whose process is gone",
            self.syncer,
            holder,
            extra={"syncer": self.syncer},
        )
        return True

    def renew_if_due(self) -> bool:
        if time.monotonic() - self._renewed_at < self.ttl / 3:
            return True
        return self.acquire()

    def release(self) -> None:
        if self.held:
            self.store.release_lease(self.syncer, self.owner)
            self.held = False

    def describe(self) -> str:
        return f"lease of {self.ttl:g} s"
