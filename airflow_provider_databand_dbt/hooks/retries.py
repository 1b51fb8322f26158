"""The hook's retries, decided by the dbt Cloud client's :class:`RetryPolicy` (one retry stack, not two).

The provider's hook code calls ``run_with_advanced_retry`` (sync, requests) and iterates
``_a_get_retry_object()`` (async, aiohttp) around each request; ``DbtCloudTrackingHook`` answers
both with what is here: the errors of either library become a :class:`Failure` (status,
``Retry-After`` parsed by :func:`parse_retry_after`, whether dbt Cloud may have acted) and the
client's :class:`Retrier` says whether and how long to wait.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Mapping
from typing import Any, Callable

import aiohttp
import requests
from typing_extensions import Self

from airflow_provider_databand_dbt.dbt_cloud.retry import (
    NOT_PROCESSED_STATUSES,
    Failure,
    Retrier,
    RetryPolicy,
    parse_retry_after,
)

log = logging.getLogger(__name__)


def status_and_headers(error: BaseException) -> tuple[int | None, Mapping[str, str] | None]:
    """The HTTP status and headers a requests or aiohttp error carries (None, None for other errors)."""
    if isinstance(error, requests.RequestException) and error.response is not None:
        return error.response.status_code, error.response.headers
    if isinstance(error, aiohttp.ClientResponseError):
        return error.status, error.headers
    return None, None


def _giving_up(error: Exception, logger: Any) -> Callable[[str], Exception]:
    """The original error (what the provider's callers expect), after logging why it is not retried."""

    def make_error(why: str) -> Exception:
        (logger or log).warning("dbt Cloud request failed (%s): %s", type(error).__name__, why)
        return error

    return make_error


def failure_of(error: Exception, policy: RetryPolicy, logger: Any = None) -> Failure | None:
    """The retryable failure ``error`` is under ``policy``, or None when it must be raised at once.

    Statuses retry when the policy lists them; connection errors and timeouts when it allows them.
    A read timeout or a 5xx other than 503 may mean dbt Cloud acted, so a run trigger is not repeated.
    """
    make_error = _giving_up(error, logger)
    status, headers = status_and_headers(error)
    if status is not None:
        if status not in policy.retry_statuses:
            return None
        retry_after = parse_retry_after(headers.get("Retry-After")) if headers else None
        return Failure(
            reason=f"HTTP {status}",
            make_error=make_error,
            may_have_acted=status not in NOT_PROCESSED_STATUSES,
            retry_after=retry_after,
        )
    connect_timeout = isinstance(error, requests.ConnectTimeout)
    if isinstance(error, (requests.Timeout, TimeoutError)) and not connect_timeout:
        if not policy.retry_timeouts:
            return None
        return Failure(reason="timeout", make_error=make_error, kind="timeout", may_have_acted=True)
    if connect_timeout or isinstance(error, (requests.ConnectionError, aiohttp.ClientConnectorError)):
        if not policy.retry_connection_errors:
            return None
        return Failure(reason=f"cannot connect ({type(error).__name__})", make_error=make_error, kind="connection")
    return None


def run_with_policy(
    call: Callable[[], Any],
    policy: RetryPolicy,
    *,
    what: str,
    repeatable: bool,
    logger: Any = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Any:
    """``call()`` under ``policy``; the last error is raised as it was when the policy gives up.

    :param logger: the hook's logger, so each retry shows in the task log.
    """

    def attempt() -> Any:
        try:
            return call()
        except Exception as error:
            failure = failure_of(error, policy, logger)
            if failure is None:
                raise
            return failure

    return Retrier(policy, sleep=sleep, logger=logger).run(attempt, what=what, repeatable=repeatable)


class _Attempt:
    """One attempt of ``async for attempt in ...: with attempt:``; keeps the error instead of raising it."""

    def __init__(self) -> None:
        self.error: Exception | None = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: object, exc: BaseException | None, tb: object) -> bool:
        if isinstance(exc, Exception):
            self.error = exc
            return True
        return False


class PolicyAttempts:
    """Async attempts in tenacity's ``AsyncRetrying`` shape, decided by a :class:`RetryPolicy`.

    The provider's ``get_job_details`` loops ``async for attempt in hook._a_get_retry_object(): with
    attempt: ...``; this object is what our hook returns there.

    :param before: awaited before each attempt (the hook takes a token of the request budget there).
    :param on_error: called with each attempt's error (the hook reports a 429 to the budget there).
    """

    def __init__(
        self,
        policy: RetryPolicy,
        *,
        what: str,
        logger: Any = None,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        before: Callable[[], Awaitable[Any]] | None = None,
        on_error: Callable[[Exception], Any] | None = None,
    ) -> None:
        self.policy = policy
        self.what = what
        self._logger = logger
        self._sleep = sleep
        self._before = before
        self._on_error = on_error

    async def __aiter__(self) -> AsyncIterator[_Attempt]:
        retrier: Retrier[Any] = Retrier(self.policy, logger=self._logger)
        start = time.monotonic()
        number = 0
        while True:
            number += 1
            if self._before is not None:  # e.g. a token of the account's shared request budget
                await self._before()
            attempt = _Attempt()
            yield attempt
            error = attempt.error
            if error is None:
                return
            if self._on_error is not None:
                self._on_error(error)
            failure = failure_of(error, self.policy, self._logger)
            if failure is None:
                raise error
            await self._sleep(retrier.next_delay(failure, number, start, what=self.what))
