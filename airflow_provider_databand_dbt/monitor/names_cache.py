"""Remember project and environment lookups: every run of an account asks for the same few names.

The collector fetches a run's project and environment to show their names; during a catch-up of
thousands of runs that would be two requests per run out of the account's request budget.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Any, Callable

DEFAULT_TTL_SECONDS = 600.0
MAX_ENTRIES = 1000


class NamesCachingClient:
    """A ``DbtCloudClient`` whose ``get_project``/``get_environment`` answers are kept for ``ttl`` seconds.

    Everything else goes straight to the wrapped client. Renames show up after at most ``ttl``.

    :param client: the real client.
    :param ttl: how long an answer is reused.
    """

    def __init__(
        self, client, ttl: float = DEFAULT_TTL_SECONDS, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._client = client
        self._ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: OrderedDict[tuple, tuple[float, Any]] = OrderedDict()
        self._fetching: dict[tuple, threading.Lock] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def __repr__(self) -> str:
        return f"NamesCachingClient({self._client!r})"

    def get_project(self, account_id, project_id):
        return self._cached(("project", account_id, project_id), self._client.get_project, account_id, project_id)

    def get_environment(self, account_id, environment_id):
        return self._cached(
            ("environment", account_id, environment_id), self._client.get_environment, account_id, environment_id
        )

    def _hit(self, key: tuple) -> tuple[bool, Any]:
        with self._lock:
            hit = self._entries.get(key)
            if hit is not None and self._clock() - hit[0] < self._ttl:
                return True, hit[1]
        return False, None

    def _cached(self, key: tuple, fetch: Callable[..., Any], *args: Any) -> Any:
        found, value = self._hit(key)
        if found:
            return value
        # One request per key at a time: the runs collected side by side all ask for the same names.
        with self._lock:
            key_lock = self._fetching.setdefault(key, threading.Lock())
        with key_lock:
            found, value = self._hit(key)
            if found:
                return value
            now = self._clock()
            value = fetch(*args)  # errors are not cached: the next run asks again
            with self._lock:
                self._entries[key] = (now, value)
                self._entries.move_to_end(key)
                while len(self._entries) > MAX_ENTRIES:
                    self._entries.popitem(last=False)
                self._fetching.pop(key, None)
        return value
