"""Keep our request rate under a per-minute ceiling, so a busy monitor never trips dbt Cloud's limit.

A token bucket shared by all threads of one client: each HTTP attempt takes a token,
tokens refill continuously at ``requests_per_minute / 60`` per second.
"""

from __future__ import annotations

import math
import threading
import time
from typing import Callable

from airflow_provider_databand_dbt.dbt_cloud.errors import DbtCloudConfigError


class TokenBucket:
    """Thread-safe token bucket; :meth:`acquire` blocks until the caller may send.

    :param requests_per_minute: sustained rate ceiling.
    :param burst: requests that may go out back to back after a quiet period;
        default is ten seconds' worth (at least 1), so a minute never sees much more than the ceiling.
    :param clock: monotonic seconds (injectable for tests).
    :param sleep: blocking sleep (injectable for tests).
    """

    def __init__(
        self,
        requests_per_minute: float,
        *,
        burst: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if (
            isinstance(requests_per_minute, bool)
            or not isinstance(requests_per_minute, (int, float))
            or not math.isfinite(requests_per_minute)
            or requests_per_minute <= 0
        ):
            raise DbtCloudConfigError(
                f"max_requests_per_minute must be a positive number (or None for no limit), got {requests_per_minute!r}"
            )
        if burst is None:
            burst = max(1, math.ceil(requests_per_minute / 6))
        if isinstance(burst, bool) or not isinstance(burst, int) or burst < 1:
            raise DbtCloudConfigError(f"burst must be an integer >= 1, got {burst!r}")
        self.requests_per_minute = float(requests_per_minute)
        self.burst = burst
        self._rate = self.requests_per_minute / 60.0
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._tokens = float(burst)
        self._updated = clock()

    def __repr__(self) -> str:
        return f"TokenBucket(requests_per_minute={self.requests_per_minute:g}, burst={self.burst})"

    def _refill(self, now: float) -> None:
        self._tokens = min(float(self.burst), self._tokens + (now - self._updated) * self._rate)
        self._updated = now

    def reserve(self) -> float:
        """Take a token now and return how long the caller must wait before using it.

        Taking it under the lock (the balance may go negative) keeps concurrent callers in a
        fair queue: each one waits for its own slot instead of all racing for the next token.
        """
        with self._lock:
            self._refill(self._clock())
            self._tokens -= 1.0
            return 0.0 if self._tokens >= 0 else -self._tokens / self._rate

    def acquire(self) -> float:
        """Block until one request may be sent; returns the seconds waited."""
        wait = self.reserve()
        if wait > 0:
            self._sleep(wait)
        return wait
