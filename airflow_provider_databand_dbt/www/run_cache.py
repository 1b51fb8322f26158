"""Per-run results that are slow on huge runs and only change when the run is tracked again.

The failure lineage walks the run's whole dependency graph and the Gantt ranks every execution: a
few seconds on a run of 100,000 nodes. Both are kept for the few most recently viewed runs, keyed by
the run's row and its ``updated_at`` (re-tracking a run changes it, so a stale entry is never used).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Any, Callable, TypeVar

T = TypeVar("T")

DEFAULT_RUNS_KEPT = 16
WAIT_FOR_OTHER_SECONDS = 120.0


class RunCache:
    """A small least-recently-used map shared by the requests of one web view.

    :param size: entries kept; each is bounded (at most 800 Gantt bars per step, 50 failures).
    """

    def __init__(self, size: int = DEFAULT_RUNS_KEPT) -> None:
        self.size = size
        self._entries: OrderedDict[Hashable, Any] = OrderedDict()
        self._pending: dict[Hashable, threading.Event] = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable, compute: Callable[[], T]) -> T:
        """The value for ``key``, computed (outside the lock) when missing.

        Requests asking for a key that another request is computing wait for that result instead
        of computing it a second time (eight people opening the same big run cost one computation).
        """
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                return self._entries[key]
            running = self._pending.get(key)
            if running is None:
                self._pending[key] = threading.Event()
        if running is not None:
            running.wait(WAIT_FOR_OTHER_SECONDS)
            with self._lock:
                if key in self._entries:
                    return self._entries[key]
            return compute()  # the other request failed (or is stuck): do it ourselves
        try:
            value = compute()
            with self._lock:
                self._entries[key] = value
                self._entries.move_to_end(key)
                while len(self._entries) > self.size:
                    self._entries.popitem(last=False)
            return value
        finally:
            with self._lock:
                self._pending.pop(key).set()
