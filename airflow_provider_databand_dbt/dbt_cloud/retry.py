"""When and how long to retry a dbt Cloud request: the only place retries are decided.

Backoff is exponential with full jitter, ``Retry-After`` is honoured, and the whole
sequence is bounded by a number of attempts and a wall-clock budget. Requests that could
act twice (triggering a job run) are only repeated when dbt Cloud cannot have acted.
"""

from __future__ import annotations

import dataclasses
import email.utils
import logging
import math
import random
import time
from datetime import datetime, timezone
from typing import Any, Callable, Generic, TypeVar, Union

from airflow_provider_databand_dbt.dbt_cloud.errors import DbtCloudConfigError

log = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
# Statuses that mean "not processed, come back later": safe to repeat even a run trigger.
NOT_PROCESSED_STATUSES = frozenset({429, 503})


@dataclasses.dataclass(frozen=True)
class RetryPolicy:
    """How hard the client tries before raising; lower the numbers for interactive use or tests.

    :param max_attempts: total attempts per call, the first one included.
    :param max_total_seconds: wall-clock budget for all attempts and waits of one call.
    :param backoff_base: first backoff cap in seconds; doubles on each retry.
    :param backoff_max: largest backoff cap in seconds.
    :param jitter: sleep a random time in ``[0, cap]`` (full jitter) instead of exactly ``cap``.
    :param retry_statuses: HTTP statuses worth retrying.
    :param retry_connection_errors: retry when the host cannot be reached.
    :param retry_timeouts: retry when no answer came within the timeout.
    """

    max_attempts: int = 5
    max_total_seconds: float = 120.0
    backoff_base: float = 1.0
    backoff_max: float = 30.0
    jitter: bool = True
    retry_statuses: frozenset = DEFAULT_RETRY_STATUSES
    retry_connection_errors: bool = True
    retry_timeouts: bool = True

    def __post_init__(self) -> None:
        if isinstance(self.max_attempts, bool) or not isinstance(self.max_attempts, int) or self.max_attempts < 1:
            raise DbtCloudConfigError(f"RetryPolicy.max_attempts must be an integer >= 1, got {self.max_attempts!r}")
        for name in ("max_total_seconds", "backoff_base", "backoff_max"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0 or math.isinf(value):
                raise DbtCloudConfigError(f"RetryPolicy.{name} must be a finite number >= 0, got {value!r}")
        object.__setattr__(self, "retry_statuses", frozenset(self.retry_statuses))

    @classmethod
    def no_retries(cls) -> RetryPolicy:
        """One attempt only, e.g. for a connection test that should answer fast."""
        return cls(max_attempts=1)

    def backoff(self, retry_number: int, rng: Callable[[float, float], float] = random.uniform) -> float:
        """Seconds to sleep before retry ``retry_number`` (1 for the first retry).

        :param rng: ``uniform(a, b)``; injectable so the math can be tested.
        """
        cap = min(self.backoff_max, self.backoff_base * (2 ** min(retry_number - 1, 62)))
        return rng(0.0, cap) if self.jitter else cap


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date.

    :param value: the header value, or None when absent.
    :param now: current time for HTTP dates (injectable for tests).
    :returns: seconds (>= 0), or None when absent or unparseable.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        seconds = None
    if seconds is not None:
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    current = now or datetime.now(timezone.utc)
    return max(0.0, (when - current).total_seconds())


@dataclasses.dataclass
class Failure:
    """One failed attempt that a retry might fix; returned (not raised) by an attempt.

    :param reason: short text for logs and messages (``HTTP 503``, ``read timeout``).
    :param make_error: builds the exception to raise if we give up; receives why we gave up
        (the Airflow hook gives back the original error, as the provider's callers expect).
    :param retryable: whether the policy allows retrying this kind of failure at all.
    :param may_have_acted: dbt Cloud may have processed the request (read timeout, 500...);
        requests that must not act twice are then not repeated.
    :param retry_after: seconds dbt Cloud asked us to wait, if it said.
    :param kind: outcome label for metrics: ``status``, ``timeout``, ``connection``, ``truncated``.
    """

    reason: str
    make_error: Callable[[str], Exception]
    kind: str = "status"
    retryable: bool = True
    may_have_acted: bool = False
    retry_after: float | None = None


Outcome = Union[T, Failure]


class Retrier(Generic[T]):
    """Runs one call's attempts under a :class:`RetryPolicy`.

    :param policy: limits and backoff.
    :param sleep: injectable for tests; ``time.sleep`` by default.
    :param clock: monotonic seconds; ``time.monotonic`` by default.
    :param logger: where "retrying in" lines go (the Airflow hook passes its task logger).
    """

    def __init__(
        self,
        policy: RetryPolicy,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: Callable[[float, float], float] = random.uniform,
        logger: logging.Logger | logging.LoggerAdapter | Any = None,
    ) -> None:
        self.policy = policy
        self._log = logger or log
        self._sleep = sleep
        self._clock = clock
        self._rng = rng

    def run(self, attempt: Callable[[], Outcome], *, what: str, repeatable: bool = True) -> T:
        """Call ``attempt`` until it returns a value, raises, or the policy says stop.

        :param attempt: returns the result, or a :class:`Failure` worth retrying; raises for final errors.
        :param what: ``GET /api/v2/...`` for log lines.
        :param repeatable: False for requests that must not reach dbt Cloud twice (triggering a run).
        """
        start = self._clock()
        number = 0
        while True:
            number += 1
            outcome = attempt()
            if not isinstance(outcome, Failure):
                return outcome
            self._sleep(self.next_delay(outcome, number, start, what=what, repeatable=repeatable))

    def next_delay(self, failure: Failure, number: int, start: float, *, what: str, repeatable: bool = True) -> float:
        """Seconds to wait before retrying after failed attempt ``number``, or raise the failure's error.

        The decision of :meth:`run`, for callers that drive the attempts themselves (the Airflow
        hook's async polling).

        :param start: ``clock()`` when the first attempt began.
        """
        stop = self._why_stop(failure, number, start, repeatable)
        if stop is not None:
            raise failure.make_error(stop)
        remaining = self.policy.max_total_seconds - (self._clock() - start)
        delay = failure.retry_after if failure.retry_after is not None else self.policy.backoff(number, self._rng)
        delay = max(0.0, min(delay, remaining))
        self._log.warning(
            "dbt Cloud %s failed (%s); retrying in %.1f s (attempt %d of %d)",
            what,
            failure.reason,
            delay,
            number + 1,
            self.policy.max_attempts,
        )
        return delay

    def _why_stop(self, failure: Failure, number: int, start: float, repeatable: bool) -> str | None:
        """Why not to retry this failure now, or None to go ahead."""
        policy = self.policy
        elapsed = self._clock() - start
        remaining = policy.max_total_seconds - elapsed
        if not failure.retryable:
            return "not retried"
        if not repeatable and failure.may_have_acted:
            return "not retried because dbt Cloud may already have acted on it; check before sending it again"
        if number >= policy.max_attempts:
            return f"gave up after {number} attempts in {elapsed:.1f} s"
        if failure.retry_after is not None and failure.retry_after > remaining:
            return (
                f"dbt Cloud asked to wait {failure.retry_after:.0f} s, more than the remaining retry budget "
                f"of {max(remaining, 0.0):.0f} s (attempt {number} of {policy.max_attempts})"
            )
        if remaining <= 0:
            return f"gave up after {number} attempts: the retry budget of {policy.max_total_seconds:.0f} s is used up"
        return None
