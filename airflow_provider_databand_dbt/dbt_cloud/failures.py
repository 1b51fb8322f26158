"""Turn one HTTP attempt's outcome (a status or a requests exception) into our typed errors.

Nothing from ``requests`` is kept: its exceptions hold the prepared request, headers
included, so we copy out a short reason and build our own exception outside any ``except``
block (no ``__context__`` pointing back at it).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable
from urllib.parse import urlsplit

import msgspec
import requests
from urllib3.exceptions import (
    NameResolutionError,
    NewConnectionError,
    ProtocolError,
    ProxyError,
    ReadTimeoutError,
)

from airflow_provider_databand_dbt.dbt_cloud.errors import (
    ArtifactError,
    DbtCloudAuthError,
    DbtCloudConnectionError,
    DbtCloudError,
    DbtCloudForbiddenError,
    DbtCloudNotFoundError,
    DbtCloudRateLimitError,
    DbtCloudServerError,
    DbtCloudTimeoutError,
)
from airflow_provider_databand_dbt.dbt_cloud.models import ApiStatus, ErrorEnvelope
from airflow_provider_databand_dbt.dbt_cloud.retry import (
    NOT_PROCESSED_STATUSES,
    Failure,
    RetryPolicy,
    parse_retry_after,
)
from airflow_provider_databand_dbt.dbt_cloud.urls import is_loopback

_ERROR_DECODER = msgspec.json.Decoder(ErrorEnvelope)
_REFUSED = "connection refused"
_ERROR_BODY_LIMIT = 64 * 1024

PERMISSIONS_HINT = (
    "a service token needs the Job Admin permission to trigger runs and Job Viewer (or higher) to read them"
)


@dataclasses.dataclass(frozen=True)
class Target:
    """What a request is about, so a 404 can name it: ``run 123 not found in account 1``.

    :param kind: ``account``, ``run``, ``job``, ``project``, ``environment``, ``artifact``.
    :param ident: its id (or artifact path); lists use the account as their target.
    :param account_id: the account in the URL.
    :param detail: extra words after the name, e.g. ``of run 5 (step 4)``.
    """

    kind: str
    ident: object
    account_id: int
    detail: str = ""

    def describe(self) -> str:
        name = f"{self.kind} {self.ident!r}" if isinstance(self.ident, str) else f"{self.kind} {self.ident}"
        return f"{name} {self.detail}".strip()


@dataclasses.dataclass(frozen=True)
class Call:
    """One logical request, for messages: ``GET https://host/api/v2/...`` (never a query string)."""

    method: str
    base_url: str
    path: str
    target: Target

    @property
    def url(self) -> str:
        return self.base_url + self.path

    @property
    def hostname(self) -> str:
        return urlsplit(self.base_url).hostname or ""

    @property
    def host_port(self) -> str:
        """``host:port`` with the port always shown, so "refused" names exactly what was tried."""
        parts = urlsplit(self.base_url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        host = parts.hostname or ""
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

    def __str__(self) -> str:
        return f"{self.method} {self.url}"


def read_api_status(response: requests.Response, scrub: Callable[[str], str]) -> ApiStatus | None:
    """dbt Cloud's ``status`` block from an error body, if it is one (reads at most 64 KiB)."""
    body = b""
    try:
        for chunk in response.iter_content(chunk_size=8192):
            body += chunk
            if len(body) >= _ERROR_BODY_LIMIT:
                return None
    except requests.RequestException:
        body = b""
    try:
        status = _ERROR_DECODER.decode(body).status
    except (msgspec.DecodeError, msgspec.ValidationError):
        status = None
    if status is None:
        return None
    return ApiStatus(
        code=status.code,
        is_success=status.is_success,
        user_message=scrub(status.user_message) if status.user_message else None,
        developer_message=scrub(status.developer_message) if status.developer_message else None,
    )


def api_says(status: ApiStatus | None) -> str:
    """`` dbt Cloud said: "..."`` to append to a message, or nothing when it said nothing."""
    message = (status and (status.user_message or status.developer_message) or "").strip()
    if not message:
        return ""
    end = "" if message.endswith((".", "!", "?")) else "."
    return f' dbt Cloud said: "{message}"{end}'


def status_failure(
    response: requests.Response, call: Call, policy: RetryPolicy, scrub: Callable[[str], str]
) -> Failure | DbtCloudError:
    """A non-2xx answer: a :class:`Failure` if the policy retries that status, else the final error."""
    code = response.status_code
    api_status = read_api_status(response, scrub)
    retry_after = parse_retry_after(response.headers.get("Retry-After"))

    def make_error(note: str) -> DbtCloudError:
        return http_error(code, call, api_status, retry_after, note)

    if code in policy.retry_statuses:
        return Failure(
            reason=f"HTTP {code}" + (f", Retry-After {retry_after:g} s" if retry_after is not None else ""),
            make_error=make_error,
            may_have_acted=code not in NOT_PROCESSED_STATUSES,
            retry_after=retry_after,
        )
    return make_error("")


def http_error(
    code: int, call: Call, api_status: ApiStatus | None, retry_after: float | None, note: str
) -> DbtCloudError:
    """The typed error for an HTTP status, with a message saying what to check."""
    said = api_says(api_status)
    extra: dict[str, Any] = {
        "status_code": code,
        "api_code": api_status.code if api_status else None,
        "api_message": (api_status.user_message or api_status.developer_message) if api_status else None,
        "url": call.url,
    }
    suffix = f" ({note})" if note else ""
    target = call.target
    if code == 401:
        return DbtCloudAuthError(
            f"dbt Cloud rejected the API token (401) for {call}: check the API token (it must be valid, "
            f"not expired or revoked, and issued on {call.base_url}); {PERMISSIONS_HINT}.{said}",
            **extra,
        )
    if code == 403:
        what = (
            f"account {target.account_id}"
            if target.kind == "account"
            else f"{target.describe()} in account {target.account_id}"
        )
        return DbtCloudForbiddenError(
            f"the API token may not access {what} (403 on {call}).{said} "
            f"Check that the token belongs to account {target.account_id} and has the needed permissions; "
            f"{PERMISSIONS_HINT}.",
            **extra,
        )
    if code == 404:
        return DbtCloudNotFoundError(_not_found_message(call) + said, **extra)
    if code == 429:
        return DbtCloudRateLimitError(
            f"dbt Cloud rate limit hit (429) on {call}{suffix}.{said} Lower max_requests_per_minute "
            f"or the polling frequency, or try again later.",
            retry_after=retry_after,
            **extra,
        )
    if code >= 500:
        wait = f" It asked to wait {retry_after:g} s." if retry_after is not None else ""
        return DbtCloudServerError(
            f"dbt Cloud server error {code} on {call}{suffix}.{said}{wait} "
            "dbt Cloud may be having an incident; try again later.",
            **extra,
        )
    return DbtCloudError(
        f"dbt Cloud refused {call} with HTTP {code}{suffix}.{said} Check the request parameters.", **extra
    )


def _not_found_message(call: Call) -> str:
    target = call.target
    if target.kind == "account":
        return (
            f"account {target.account_id} not found on {call.base_url} (404 on {call}): check the account id, "
            f"the host/tenant, and that the token belongs to this account."
        )
    if target.kind == "artifact":
        return (
            f"{target.describe()} not found in account {target.account_id} on {call.base_url} (404 on {call}): "
            f"the step may not have produced it (it failed early, or the run saved no artifacts)."
        )
    return (
        f"{target.describe()} not found in account {target.account_id} on {call.base_url}: "
        f"check the {target.kind} id and that the token belongs to this account."
    )


def exception_failure(
    exc: requests.RequestException, call: Call, timeout: tuple[float, float], policy: RetryPolicy
) -> Failure:
    """A requests exception as a :class:`Failure`; only a short reason text is copied out of it."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        reason = f"connect timeout after {timeout[0]:g} s"
        return Failure(
            reason=reason,
            make_error=lambda note: DbtCloudTimeoutError(
                f"cannot connect to {call.base_url} within {timeout[0]:g} s for {call} ({note}): "
                f"check the host/tenant, the network and any proxy.",
                url=call.url,
            ),
            retryable=policy.retry_timeouts,
            kind="timeout",
        )
    if is_read_timeout(exc):
        return read_timeout_failure(call, timeout, policy)
    if isinstance(exc, requests.exceptions.SSLError):
        reason = "TLS handshake failed (certificate or proxy problem)"
        if is_loopback(call.hostname) and call.base_url.startswith("https://"):
            reason = f"TLS handshake failed; if {call.host_port} is a local test server without TLS, use http://{call.host_port}"
        return _connection_failure(call, reason, retryable=False, acted=False)
    if isinstance(exc, (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError)):
        return _connection_failure(
            call, "the connection broke while reading the answer", policy.retry_connection_errors, acted=True
        )
    if isinstance(exc, requests.exceptions.ConnectionError):
        reason, acted = _connection_reason(exc)
        # Nothing listens on a loopback port: waiting will not start a server, so say it at once.
        refused_locally = reason == _REFUSED and is_loopback(call.hostname)
        return _connection_failure(call, reason, policy.retry_connection_errors and not refused_locally, acted=acted)
    return _connection_failure(call, f"request failed ({type(exc).__name__})", retryable=False, acted=False)


def read_timeout_failure(call: Call, timeout: tuple[float, float], policy: RetryPolicy) -> Failure:
    return _timeout_failure(
        call,
        policy,
        reason=f"read timeout after {timeout[1]:g} s",
        waited=f"answer {call} within {timeout[1]:g} s",
        advice="dbt Cloud may be slow or overloaded; try again later or raise the read timeout.",
    )


def deadline_failure(call: Call, limit: str, policy: RetryPolicy) -> Failure:
    """The answer was still arriving when the attempt's wall-clock deadline passed (a trickling host)."""
    return _timeout_failure(
        call,
        policy,
        reason=f"not finished within the {limit}",
        waited=f"finish answering {call} within the {limit}",
        advice="the host sends too slowly (a proxy or network problem); try again later or raise the deadline.",
    )


def _timeout_failure(call: Call, policy: RetryPolicy, *, reason: str, waited: str, advice: str) -> Failure:
    """A call that ran out of time: dbt Cloud may have acted on it, retried when the policy retries timeouts."""
    return Failure(
        reason=reason,
        make_error=lambda note: DbtCloudTimeoutError(f"dbt Cloud did not {waited} ({note}): {advice}", url=call.url),
        retryable=policy.retry_timeouts,
        may_have_acted=True,
        kind="timeout",
    )


def truncated_failure(call: Call, received: int, expected: int | None, policy: RetryPolicy) -> Failure:
    """An artifact body that ended early; downloading again usually fixes it."""
    size = (
        f"got {received} of {expected} bytes"
        if expected is not None
        else f"got {received} bytes before the connection broke"
    )
    return Failure(
        reason=f"truncated: {size}",
        make_error=lambda note: ArtifactError(
            f"{call.target.describe()} is truncated: {size} from {call} ({note}); try again later, "
            f"the connection to dbt Cloud broke during the download.",
            url=call.url,
            status_code=200,
        ),
        retryable=policy.retry_connection_errors,
        kind="truncated",
    )


def _connection_failure(call: Call, reason: str, retryable: bool, acted: bool) -> Failure:
    return Failure(
        reason=reason,
        make_error=lambda note: DbtCloudConnectionError(
            f"cannot reach {call.host_port} for {call}: {reason} ({note}); "
            "check the host/tenant, the network and any proxy.",
            url=call.url,
        ),
        retryable=retryable,
        may_have_acted=acted,
        kind="connection",
    )


def is_read_timeout(exc: BaseException) -> bool:
    """A read timeout, also when requests wrapped urllib3's in a ConnectionError (mid-stream)."""
    return isinstance(exc, requests.exceptions.ReadTimeout) or any(isinstance(x, ReadTimeoutError) for x in _chain(exc))


def _chain(exc: BaseException):
    """The exception, what it wraps (urllib3 puts it in args / .reason) and its causes."""
    seen: set[int] = set()
    todo = [exc]
    while todo:
        item = todo.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        yield item
        nested = [getattr(item, "reason", None), item.__cause__, item.__context__, *item.args]
        todo.extend(x for x in nested if isinstance(x, BaseException))


def _connection_reason(exc: requests.exceptions.ConnectionError) -> tuple[str, bool]:
    """A short human reason, and whether the request may have reached the server."""
    chain = list(_chain(exc))
    if any(isinstance(x, NameResolutionError) for x in chain):
        return "the host name does not resolve", False
    if any(isinstance(x, ConnectionRefusedError) for x in chain):
        return _REFUSED, False
    if any(isinstance(x, ProxyError) for x in chain):
        return "the proxy refused the connection", False
    if any(isinstance(x, NewConnectionError) for x in chain):
        os_errors = [x for x in chain if isinstance(x, OSError) and x.strerror]
        return (f"connection failed: {os_errors[0].strerror}" if os_errors else "connection failed"), False
    if any(isinstance(x, ProtocolError) for x in chain):
        return "the connection was closed before a complete answer arrived", True
    return f"connection error ({type(exc).__name__})", True
