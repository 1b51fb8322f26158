"""Trigger a dbt Cloud run without ever blindly repeating the POST.

A POST that timed out, lost its connection or got a 5xx may have created the run anyway; sending it
again would start a second run (twice the warehouse compute). So the POST is sent once, carrying a
unique token in the run's ``cause``; after such a failure the job's recent runs are listed, a run
carrying the token is adopted, and only when none exists is the POST sent again.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Callable

import requests
from tenacity import stop_after_attempt

from airflow_provider_databand_dbt.dbt_cloud.retry import RetryPolicy

log = logging.getLogger(__name__)

# dbt Cloud refuses a longer cause (the provider truncates to it, which would cut our token off).
CAUSE_MAX_CHARS = 255
TOKEN_PREFIX = "databand-dbt:"
TOKEN_JSON_KEY = "databand_dbt_token"
MAX_TRIGGER_ATTEMPTS = 3
RECENT_RUNS = 100
# Looks at the job's runs after an unanswered POST; dbt Cloud may still be creating the run at the first.
LOOKUP_PAUSES_SECONDS = (0.0, 2.0)
_RETRY_PAUSE_SECONDS = 2.0


def new_token() -> str:
    return uuid.uuid4().hex


def cause_with_token(cause: str | None, token: str) -> str:
    """``cause`` carrying the token: a key of a JSON cause (the provider's OpenLineage parent
    information), else a ``[databand-dbt:<token>]`` suffix; the cause is shortened, never the token.

    A JSON cause too long for the token loses its OpenLineage ``root`` block first, as the provider
    itself does at its limit, so that it stays JSON with its ``parent`` link.
    """
    text = cause or "Triggered via Apache Airflow"
    if text.lstrip().startswith("{"):
        try:
            data = json.loads(text)
        except ValueError:
            data = None
        if isinstance(data, dict):
            shorter = {key: value for key, value in data.items() if key != "root"} if "parent" in data else data
            for candidate in (data, shorter):
                encoded = json.dumps({**candidate, TOKEN_JSON_KEY: token}, separators=(",", ":"))
                if len(encoded) <= CAUSE_MAX_CHARS:
                    return encoded
    suffix = f" [{TOKEN_PREFIX}{token}]"
    return text[: CAUSE_MAX_CHARS - len(suffix)] + suffix


def cause_has_token(cause: Any, token: str) -> bool:
    return isinstance(cause, str) and token in cause


@dataclass(frozen=True)
class TriggeredRun:
    """The run a trigger made (or adopted after a lost answer)."""

    run_id: int
    url: str | None
    status: int | None = None
    adopted: bool = False


def outcome_unknown(error: BaseException) -> bool:
    """The POST may have created the run: timeout, reset or dropped connection, 5xx, unreadable answer."""
    if isinstance(error, requests.HTTPError):
        return error.response is not None and error.response.status_code >= 500
    return isinstance(error, (requests.RequestException, ValueError))


def _rejected(error: BaseException) -> bool:
    # A 429 means dbt Cloud did not take the request: sending it again cannot duplicate a run.
    return isinstance(error, requests.HTTPError) and error.response is not None and error.response.status_code == 429


@contextlib.contextmanager
def single_attempt(hook: Any) -> Iterator[None]:
    """The hook's requests sent once: its retries repeat 5xx and timeouts, fine for a GET only.

    The hook retries under its ``retry_policy`` (the dbt Cloud client's), or under tenacity when the user
    gave ``retry_args``: both are narrowed to one attempt for the duration.
    """
    saved_policy = getattr(hook, "retry_policy", None)
    saved_args = getattr(hook, "retry_args", None)
    if isinstance(saved_policy, RetryPolicy):
        hook.retry_policy = dataclasses.replace(saved_policy, max_attempts=1)
    if isinstance(saved_args, dict):
        hook.retry_args = {**saved_args, "stop": stop_after_attempt(1)}
    try:
        yield
    finally:
        if isinstance(saved_policy, RetryPolicy):
            hook.retry_policy = saved_policy
        if isinstance(saved_args, dict):
            hook.retry_args = saved_args


def find_run_by_token(hook: Any, account_id: int | None, job_id: int, token: str) -> TriggeredRun | None:
    """The job's recent run whose cause carries ``token``, or None (looked at twice, a pause apart)."""
    for pause in LOOKUP_PAUSES_SECONDS:
        time.sleep(pause)
        runs = (
            hook.get_job_runs(
                account_id=account_id,
                payload={
                    "job_definition_id": job_id,
                    "order_by": "-id",
                    "limit": RECENT_RUNS,
                    "include_related": ["trigger"],
                },
            ).json()["data"]
            or []
        )
        for run in runs:
            if cause_has_token((run.get("trigger") or {}).get("cause"), token):
                return TriggeredRun(int(run["id"]), run.get("href"), run.get("status"), adopted=True)
    return None


def trigger_run(
    hook: Any,
    post: Callable[[str], Any],
    *,
    account_id: int | None,
    job_id: int,
    cause: str | None,
    token: str,
    warn: Callable[..., None] = log.warning,
) -> TriggeredRun:
    """POST the trigger with ``token`` in the cause, at most once per proof that no run carries it.

    :param hook: the dbt Cloud hook (for listing the job's runs).
    :param post: sends the trigger POST with the given cause and returns the response.
    :raises: the last error when the POST failed ``MAX_TRIGGER_ATTEMPTS`` times, or at once when
        dbt Cloud answered it with a definite refusal (4xx other than 429).
    """
    tagged = cause_with_token(cause, token)
    for attempt in range(1, MAX_TRIGGER_ATTEMPTS + 1):
        try:
            with single_attempt(hook):
                data = post(tagged).json()["data"]
            return TriggeredRun(int(data["id"]), data.get("href"), data.get("status"))
        except Exception as error:
            if attempt == MAX_TRIGGER_ATTEMPTS or not (_rejected(error) or outcome_unknown(error)):
                raise
            if not _rejected(error):
                found = find_run_by_token(hook, account_id, job_id, token)
                if found is not None:
                    warn(
                        "The answer to the dbt Cloud trigger was lost (%s); adopted run %s, which carries this "
                        "try's token, instead of triggering again",
                        _short(error),
                        found.run_id,
                    )
                    return found
            warn(
                "The dbt Cloud trigger failed (%s) and no run of job %s carries this try's token: triggering "
                "again (attempt %s of %s)",
                _short(error),
                job_id,
                attempt + 1,
                MAX_TRIGGER_ATTEMPTS,
            )
            time.sleep(_RETRY_PAUSE_SECONDS * attempt)
    raise AssertionError("unreachable")


def _short(error: BaseException) -> str:
    text = " ".join(str(error).split())[:200]
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
