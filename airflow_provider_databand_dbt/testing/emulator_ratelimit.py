"""dbt Cloud's per-account request limit, emulated: a breach locks the whole account out.

dbt Cloud allows a number of requests per minute per account (5,000) and answers every request of an
account that went over with 429 for five minutes. Here the limit is off until set (``requests_per_minute``
over any sliding 60 s window), the lock-out is configurable (short for tests), and counters of requests and
429s per account are readable through the control plane (``GET /_emulator/rate_limit``).
"""

from __future__ import annotations

import collections
import math
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

DEFAULT_LOCKOUT_SECONDS = 300.0
WINDOW_SECONDS = 60.0
_ACCOUNT_IN_PATH = re.compile(r"^/api/v[23]/accounts/(\d+)/")


@dataclass
class _AccountWindow:
    times: collections.deque = field(default_factory=collections.deque)
    locked_until: float = 0.0
    requests: int = 0
    rate_limited: int = 0
    lockouts: int = 0
    busiest_window: int = 0


class AccountRateLimit:
    """Counts the API requests of each account and decides which ones get 429.

    :param clock: monotonic seconds (injectable for tests).
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self.requests_per_minute: Optional[int] = None
        self.lockout_seconds = DEFAULT_LOCKOUT_SECONDS
        self._accounts: dict[int, _AccountWindow] = collections.defaultdict(_AccountWindow)

    def configure(
        self, requests_per_minute: Optional[int], lockout_seconds: float = DEFAULT_LOCKOUT_SECONDS, reset: bool = True
    ) -> dict[str, Any]:
        """Set the limit (None: no limit) and the lock-out; ``reset`` also clears counters and lock-outs."""
        if requests_per_minute is not None and (isinstance(requests_per_minute, bool) or int(requests_per_minute) < 1):
            raise ValueError("requests_per_minute must be a whole number >= 1, or null for no limit")
        if not (isinstance(lockout_seconds, (int, float)) and 0 <= lockout_seconds < math.inf):
            raise ValueError("lockout_seconds must be a number of seconds >= 0")
        with self._lock:
            self.requests_per_minute = None if requests_per_minute is None else int(requests_per_minute)
            self.lockout_seconds = float(lockout_seconds)
            if reset:
                self._accounts.clear()
        return self.snapshot()

    def check(self, path: str) -> Optional[float]:
        """Count a request; the Retry-After seconds when it must be answered 429, else None."""
        found = _ACCOUNT_IN_PATH.match(path)
        if found is None:
            return None
        now = self._clock()
        with self._lock:
            account = self._accounts[int(found.group(1))]
            account.requests += 1
            if account.locked_until > now:
                account.rate_limited += 1
                return account.locked_until - now
            if self.requests_per_minute is None:
                return None
            times = account.times
            while times and times[0] <= now - WINDOW_SECONDS:
                times.popleft()
            times.append(now)
            account.busiest_window = max(account.busiest_window, len(times))
            if len(times) <= self.requests_per_minute:
                return None
            account.lockouts += 1
            account.rate_limited += 1
            account.locked_until = now + self.lockout_seconds
            times.clear()
            return self.lockout_seconds

    def snapshot(self) -> dict[str, Any]:
        """The limit and, per account, requests, 429s, lock-outs, the busiest 60 s and the lock-out left."""
        now = self._clock()
        with self._lock:
            return {
                "requests_per_minute": self.requests_per_minute,
                "lockout_seconds": self.lockout_seconds,
                "requests": sum(a.requests for a in self._accounts.values()),
                "rate_limited": sum(a.rate_limited for a in self._accounts.values()),
                "accounts": {
                    str(account_id): {
                        "requests": a.requests,
                        "rate_limited": a.rate_limited,
                        "lockouts": a.lockouts,
                        "busiest_60s": a.busiest_window,
                        "locked_for": max(0.0, a.locked_until - now),
                    }
                    for account_id, a in sorted(self._accounts.items())
                },
            }
