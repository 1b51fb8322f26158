"""Read answer bodies within limits: JSON capped in memory, artifacts streamed to a temp file.

Both read in chunks, so neither a gzip bomb nor a runaway answer is ever held whole, and both turn
a broken read into a retryable :class:`Failure` or a final typed error.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path
from typing import Callable

import requests

from airflow_provider_databand_dbt.dbt_cloud.errors import (
    ArtifactError,
    DbtCloudInvalidResponseError,
)
from airflow_provider_databand_dbt.dbt_cloud.failures import (
    Call,
    exception_failure,
    is_read_timeout,
    read_timeout_failure,
    truncated_failure,
)
from airflow_provider_databand_dbt.dbt_cloud.inflate import decoded_chunks
from airflow_provider_databand_dbt.dbt_cloud.retry import Failure, RetryPolicy

log = logging.getLogger(__name__)

_CHUNK = 1024 * 1024
_JSON_CHUNK = 64 * 1024


def read_json(
    response: requests.Response, call: Call, limit: int | None, timeout: tuple[float, float], policy: RetryPolicy
) -> tuple[requests.Response, bytes] | Failure:
    """The decoded body, read in chunks and refused once it passes ``limit`` (``max_response_bytes``).

    Reading in pieces keeps a gzip bomb or a runaway answer from ever being held whole in memory.
    """
    encoded = response.headers.get("Content-Encoding", "identity").lower() not in ("", "identity")
    expected = _content_length(response)
    if limit is not None and expected is not None and not encoded and expected > limit:
        raise _json_too_large(call, f"dbt Cloud announced {expected} bytes", limit)
    body = bytearray()
    try:
        for chunk in decoded_chunks(response, _JSON_CHUNK):
            body += chunk
            if limit is not None and len(body) > limit:
                raise _json_too_large(
                    call, f"more than {limit} bytes arrived" + (" once decompressed" if encoded else ""), limit
                )
    except requests.RequestException as exc:
        return exception_failure(exc, call, timeout, policy)
    return response, bytes(body)


def stream_to_file(
    response: requests.Response,
    call: Call,
    *,
    directory: str | os.PathLike | None,
    suffix: str,
    max_bytes: int | None,
    timeout: tuple[float, float],
    policy: RetryPolicy,
    report: Callable[[str], None],
) -> Path | Failure:
    """Write an artifact body to a new temp file; a broken or oversized one leaves no file behind.

    :param report: called with the attempt's outcome for metrics (status, ``too_large``, ``truncated``...).
    """
    encoded = response.headers.get("Content-Encoding", "identity").lower() not in ("", "identity")
    expected = _content_length(response)
    if max_bytes is not None and expected is not None and not encoded and expected > max_bytes:
        report("too_large")
        raise _too_large(call, f"dbt Cloud announced {expected} bytes")
    fd, name = tempfile.mkstemp(prefix="dbt-cloud-artifact-", suffix=suffix, dir=directory)
    keep = False
    received = 0
    broken: Failure | None = None
    too_large = False
    try:
        with os.fdopen(fd, "wb") as handle:
            try:
                for chunk in decoded_chunks(response, _CHUNK):
                    received += len(chunk)
                    if max_bytes is not None and received > max_bytes:
                        too_large = True
                        break
                    handle.write(chunk)
            except requests.RequestException as exc:
                if is_read_timeout(exc):
                    broken = read_timeout_failure(call, timeout, policy)
                else:
                    # The failing read's partial data is never yielded; count what came over the wire.
                    broken = truncated_failure(call, _wire_bytes(response, received), expected, policy)
        if too_large:
            report("too_large")
            raise _too_large(call, f"more than {max_bytes} bytes arrived")
        if broken is None and expected is not None and not encoded and received != expected:
            broken = truncated_failure(call, received, expected, policy)
        if broken is not None:
            report(broken.kind)
            return broken
        report(str(response.status_code))
        log.debug("dbt Cloud artifact %s: %d bytes to %s", call.path, received, name)
        keep = True
        return Path(name)
    finally:
        if not keep:
            remove_file(name)


def _content_length(response: requests.Response) -> int | None:
    value = response.headers.get("Content-Length")
    if value is None or not value.strip().isdigit():
        return None
    return int(value.strip())


def _wire_bytes(response: requests.Response, fallback: int) -> int:
    """Body bytes received from the socket (before decompression), as urllib3 counts them."""
    try:
        return int(response.raw.tell())
    except (AttributeError, TypeError, ValueError, OSError):
        return fallback


def _json_too_large(call: Call, what: str, limit: int) -> DbtCloudInvalidResponseError:
    return DbtCloudInvalidResponseError(
        f"dbt Cloud answered {call} with too much JSON: {what}, over the max_response_bytes limit of {limit} bytes; "
        f"check that the API URL points at dbt Cloud, or raise max_response_bytes.",
        url=call.url,
        status_code=200,
    )


def _too_large(call: Call, what: str) -> ArtifactError:
    return ArtifactError(
        f"{call.target.describe()} from {call} is too large: {what}, over the max_artifact_bytes limit; "
        f"raise max_artifact_bytes if this artifact is expected to be that big.",
        url=call.url,
        status_code=200,
    )


def remove_file(name: str) -> None:
    try:
        os.unlink(name)
    except FileNotFoundError:
        pass
