"""One HTTP attempt at a time, under the retry policy: session, timeouts, rate limit, metrics, logs.

:class:`Transport` knows nothing about dbt Cloud's endpoints (that is ``client.py``); it sends
a request, maps the outcome to a typed error or a retryable :class:`Failure`, and decodes JSON
envelopes or streams artifacts to disk.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import threading
import time
from pathlib import Path
from typing import Any, Callable, Optional, TypeVar

import msgspec
import requests

from airflow_provider_databand_dbt import __version__
from airflow_provider_databand_dbt.dbt_cloud.bodies import (
    read_json,
    remove_file,
    stream_to_file,
)
from airflow_provider_databand_dbt.dbt_cloud.errors import (
    DbtCloudConfigError,
    DbtCloudConnectionError,
    DbtCloudInvalidResponseError,
    DbtCloudTimeoutError,
)
from airflow_provider_databand_dbt.dbt_cloud.failures import (
    Call,
    Target,
    deadline_failure,
    exception_failure,
    status_failure,
)
from airflow_provider_databand_dbt.dbt_cloud.inflate import ACCEPT_ENCODING
from airflow_provider_databand_dbt.dbt_cloud.models import Envelope
from airflow_provider_databand_dbt.dbt_cloud.ratelimit import TokenBucket
from airflow_provider_databand_dbt.dbt_cloud.retry import Failure, Retrier, RetryPolicy, parse_retry_after
from airflow_provider_databand_dbt.dbt_cloud.shared_budget import BudgetWaitTooLong, SharedBudget
from airflow_provider_databand_dbt.dbt_cloud.watchdog import (
    ConnectionTracker,
    OverallDeadline,
    TrackingAdapter,
)

log = logging.getLogger(__name__)

T = TypeVar("T")
RequestListener = Callable[[str, str, str], None]
USER_AGENT = f"airflow-provider-databand-dbt/{__version__} python-requests/{requests.__version__}"
DEFAULT_TIMEOUT = (10.0, 60.0)
DEFAULT_MAX_ARTIFACT_BYTES = 2 * 1024**3
DEFAULT_MAX_RESPONSE_BYTES = 32 * 1024**2
DEFAULT_REQUEST_DEADLINE = 600.0


class _TokenAuth(requests.auth.AuthBase):
    """Adds ``Authorization: Token ...``; set as session auth so a ~/.netrc entry cannot replace it."""

    def __init__(self, token: str) -> None:
        self._token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Token {self._token}"
        return request

    def __repr__(self) -> str:
        return "_TokenAuth(<hidden>)"

    def scrub(self, text: str) -> str:
        return text.replace(self._token, "<token>") if self._token in text else text


def normalize_timeout(timeout: object) -> tuple[float, float]:
    """``(connect, read)`` seconds from a number or a pair; both must be positive."""
    pair = timeout if isinstance(timeout, (tuple, list)) else (timeout, timeout)
    if len(pair) != 2 or not all(
        isinstance(x, (int, float)) and not isinstance(x, bool) and 0 < x < float("inf") for x in pair
    ):
        raise DbtCloudConfigError(
            f"timeout must be a positive number or a (connect, read) pair of them, got {timeout!r}"
        )
    return float(pair[0]), float(pair[1])


def positive_limit(value: object, name: str, *, integer: bool) -> float | int | None:
    """A size or time limit option: a positive number, or None for no limit."""
    kinds = (int,) if integer else (int, float)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, kinds) or not 0 < value < float("inf"):
        kind = "int" if integer else "number of seconds"
        raise DbtCloudConfigError(f"{name} must be a positive {kind} or None, got {value!r}")
    return value


class Transport:
    """Sends requests for :class:`DbtCloudClient`; one instance per client.

    :param base_url: normalized ``scheme://host[:port]``.
    :param token: validated API token.
    :param timeout: ``(connect, read)`` seconds for every attempt (read: per chunk for downloads).
    :param retry: the retry policy.
    :param limiter: optional token bucket taken before every attempt.
    :param budget: the account's request budget shared through the tracking store (set by
        :meth:`DbtCloudClient.use_request_budget`); it falls back to ``limiter`` by itself.
    :param listener: ``listener(method, route, outcome)`` after every attempt.
    :param request_deadline: wall-clock seconds for one attempt, body included (None: no limit).
    :param max_response_bytes: largest decoded JSON answer (None: no limit).
    """

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout: tuple[float, float],
        retry: RetryPolicy,
        limiter: Optional[TokenBucket] = None,
        listener: Optional[RequestListener] = None,
        request_deadline: Optional[float] = DEFAULT_REQUEST_DEADLINE,
        max_response_bytes: Optional[int] = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> None:
        self.base_url = base_url
        self.request_deadline = request_deadline
        self.max_response_bytes = max_response_bytes
        self._tracker = ConnectionTracker()
        self._overall = threading.local()
        self.timeout = timeout
        self.retry = retry
        self.limiter = limiter
        self.budget: Optional[SharedBudget] = None
        self.listener = listener
        self._auth = _TokenAuth(token)
        self.session = requests.Session()
        self.session.auth = self._auth
        for prefix in ("https://", "http://"):
            self.session.mount(prefix, TrackingAdapter(self._tracker))
        # Only what inflate.py decodes in bounded pieces (never br/zstd, even when installed).
        self.session.headers.update(
            {"User-Agent": USER_AGENT, "Accept": "application/json", "Accept-Encoding": ACCEPT_ENCODING}
        )
        self._count_lock = threading.Lock()
        self._request_count = 0

    @property
    def request_count(self) -> int:
        """HTTP attempts sent so far (retries included)."""
        return self._request_count

    def close(self) -> None:
        """Abort requests in flight (from any thread) and release pooled connections."""
        self._tracker.abort()
        if self.budget is not None:
            self.budget.close()
        self.session.close()

    @contextlib.contextmanager
    def overall_deadline(self, seconds: Optional[float], what: str):
        """Bound every request this thread sends inside the block (retries and waits included)."""
        previous: Optional[OverallDeadline] = getattr(self._overall, "value", None)
        if seconds is None:
            yield
            return
        mine = OverallDeadline(time.monotonic() + seconds, seconds, what)
        self._overall.value = previous if previous is not None and previous.until < mine.until else mine
        try:
            yield
        finally:
            self._overall.value = previous

    def _retrier(self) -> Retrier:
        """The retry policy, its time budget cut to what the overall deadline leaves."""
        overall: Optional[OverallDeadline] = getattr(self._overall, "value", None)
        if overall is None:
            return Retrier(self.retry)
        budget = min(self.retry.max_total_seconds, max(0.0, overall.left()))
        return Retrier(dataclasses.replace(self.retry, max_total_seconds=budget))

    def _attempt_budget(self, call: Call) -> tuple[Optional[float], str]:
        """Seconds this attempt may take, and which limit that is; raises once the overall deadline passed."""
        overall: Optional[OverallDeadline] = getattr(self._overall, "value", None)
        budget, limit = (
            self.request_deadline,
            f"request deadline of {self.request_deadline or 0:g} s (request_deadline)",
        )
        if overall is not None:
            left = overall.left()
            if left <= 0:
                raise DbtCloudTimeoutError(
                    f"{call} was not sent: {overall.describe()} passed; raise it or check why dbt Cloud is slow.",
                    url=call.url,
                )
            if budget is None or left < budget:
                budget, limit = left, overall.describe()
        return budget, limit

    def _closed(self, call: Call, what: str) -> DbtCloudConnectionError:
        return DbtCloudConnectionError(f"{call} {what}: the dbt Cloud client was closed (shutting down)", url=call.url)

    # -- one attempt ----------------------------------------------------------------------

    def _attempt(
        self,
        call: Call,
        route: str,
        consume: Callable[[requests.Response], Any],
        *,
        params: Any = None,
        body: Any = None,
        stream: bool = False,
    ) -> Any:
        """Send once and ``consume`` the 2xx answer, all within the attempt's deadline.

        :returns: what ``consume`` returns, or a retryable :class:`Failure`; raises the final typed error.
        """
        if self._tracker.aborted:
            raise self._closed(call, "was not sent")
        self._wait_for_budget(call)
        if self._tracker.aborted:
            raise self._closed(call, "was not sent")
        budget, limit = self._attempt_budget(call)
        with self._count_lock:
            self._request_count += 1
        timeout = self.timeout if budget is None else (min(self.timeout[0], budget), min(self.timeout[1], budget))
        with self._tracker.deadline(budget) as expired:
            try:
                outcome = self._send(call, route, consume, params, body, stream, timeout)
            except DbtCloudInvalidResponseError:
                if not expired.is_set():
                    raise
                outcome = None
        if self._tracker.aborted and (expired.is_set() or isinstance(outcome, Failure)):
            raise self._closed(call, "was aborted")
        if expired.is_set():
            # Whatever arrived may be cut short (a cut during the headers even looks like an empty 200).
            if isinstance(outcome, Path):
                remove_file(str(outcome))
            failure = deadline_failure(call, limit, self.retry)
            if not isinstance(outcome, Failure):
                self._notify(call.method, route, failure.kind)
            return failure
        return outcome

    def _wait_for_budget(self, call: Call) -> None:
        """Take a token of the account's budget (shared or local); fail at once if that outlasts the deadline."""
        if self.budget is None:
            if self.limiter is not None:
                self.limiter.acquire()
            return
        overall: Optional[OverallDeadline] = getattr(self._overall, "value", None)
        try:
            self.budget.acquire(call.target.account_id, None if overall is None else max(0.0, overall.left()))
        except BudgetWaitTooLong as exc:
            assert overall is not None  # no deadline, no limit on the wait
            raise exc.error(f"{call} was not sent", call.target.account_id, overall.describe(), call.url) from None

    def _send(
        self,
        call: Call,
        route: str,
        consume: Callable[[requests.Response], Any],
        params: Any,
        body: Any,
        stream: bool,
        timeout: tuple[float, float],
    ) -> Any:
        started = time.monotonic()
        failure: Failure | None = None
        response: requests.Response | None = None
        try:
            response = self.session.request(
                call.method, call.url, params=params, json=body, timeout=timeout, stream=True
            )
        except requests.RequestException as exc:
            failure = exception_failure(exc, call, timeout, self.retry)
        elapsed = time.monotonic() - started
        if failure is not None:
            log.debug("dbt Cloud %s %s -> %s in %.3f s", call.method, call.path, failure.reason, elapsed)
            self._notify(call.method, route, failure.kind)
            return failure
        assert response is not None
        log.debug("dbt Cloud %s %s -> %s in %.3f s", call.method, call.path, response.status_code, elapsed)
        succeeded = 200 <= response.status_code < 300  # a 3xx left after redirects is not an answer
        if response.status_code == 429 and self.budget is not None:
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            self.budget.rate_limited(call.target.account_id, retry_after)
        if not (stream and succeeded):
            # Downloads report after the body arrived, so a truncated one is counted as such.
            self._notify(call.method, route, str(response.status_code))
        try:
            if succeeded:
                return consume(response)
            result = status_failure(response, call, self.retry, self._auth.scrub)
        finally:
            response.close()
        if isinstance(result, Failure):
            return result
        raise result

    def _notify(self, method: str, route: str, outcome: str) -> None:
        if self.listener is None:
            return
        try:
            self.listener(method, route, outcome)
        except Exception as exc:  # a broken metrics hook must not break tracking
            log.warning("dbt Cloud request_listener failed: %s: %s", type(exc).__name__, exc)

    # -- JSON -------------------------------------------------------------------------------

    def request_json(
        self,
        method: str,
        route: str,
        target: Target,
        decoder: msgspec.json.Decoder,
        *,
        params: Any = None,
        body: Any = None,
        repeatable: bool = True,
        **route_args: Any,
    ) -> Envelope:
        """Send with retries and decode the JSON envelope into ``decoder``'s type.

        :param route: path template from ``urls.py``; formatted with ``route_args``.
        :param repeatable: False for requests that must not act twice (triggering a run).
        """
        call = Call(method, self.base_url, route.format(**route_args), target)
        answer = self._retrier().run(
            lambda: self._attempt(
                call,
                route,
                lambda r: read_json(r, call, self.max_response_bytes, self.timeout, self.retry),
                params=params,
                body=body,
            ),
            what=f"{method} {call.path}",
            repeatable=repeatable,
        )
        return self._decode(answer, call, decoder)

    def _decode(self, answer: tuple[requests.Response, bytes], call: Call, decoder: msgspec.json.Decoder) -> Envelope:
        response, content = answer
        problem: str | None = None
        envelope = None
        try:
            envelope = decoder.decode(content)
        except msgspec.ValidationError as exc:
            problem = f"an unexpected shape ({self._auth.scrub(str(exc))})"
        except msgspec.DecodeError:
            ctype = response.headers.get("Content-Type", "unknown content type")
            problem = f"a body that is not valid JSON ({ctype}, {len(content)} bytes)"
        if envelope is not None and envelope.status is not None and envelope.status.is_success is False:
            problem = "an envelope whose status says the request failed"
        if problem is not None:
            raise DbtCloudInvalidResponseError(
                f"dbt Cloud answered {call} with {problem}: check that the API URL points at dbt Cloud "
                f"(not a proxy or login page); if it does, dbt Cloud's API may have changed.",
                status_code=response.status_code,
                url=call.url,
            )
        assert envelope is not None  # no problem means decode() returned an Envelope
        return envelope

    # -- artifacts ----------------------------------------------------------------------------

    def download(
        self,
        route: str,
        target: Target,
        *,
        params: Any,
        directory: str | os.PathLike | None,
        suffix: str,
        max_bytes: int | None,
        **route_args: Any,
    ) -> Path:
        """Stream a raw file to a new temp file (the caller deletes it), with retries."""
        call = Call("GET", self.base_url, route.format(**route_args), target)

        def consume(response: requests.Response) -> Path | Failure:
            return stream_to_file(
                response,
                call,
                directory=directory,
                suffix=suffix,
                max_bytes=max_bytes,
                timeout=self.timeout,
                policy=self.retry,
                report=lambda outcome: self._notify(call.method, route, outcome),
            )

        return self._retrier().run(
            lambda: self._attempt(call, route, consume, params=params, stream=True), what=f"GET {call.path}"
        )
