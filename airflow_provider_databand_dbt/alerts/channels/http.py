"""POST a JSON body to a webhook (Slack, Teams, generic), with a timeout and errors that never quote the URL.

A webhook URL is a credential, and ``requests`` puts the URL into its exception messages: every
message here is built from the status code, the exception's type and the answer's first line, redacted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Optional

import requests

from airflow_provider_databand_dbt.alerts.channels.base import DeliveryError
from airflow_provider_databand_dbt.alerts.secrets import Secret, redact

# Answers that say the webhook itself is wrong (bad payload, revoked, deleted): retrying cannot help.
PERMANENT_STATUSES = frozenset({400, 401, 403, 404, 405, 410, 413, 422})
MAX_ANSWER_CHARS = 120


def post_json(
    url: Secret,
    body: bytes,
    timeout: float,
    *,
    headers: Optional[Mapping[str, str]] = None,
    secrets: Sequence[Optional[Secret]] = (),
) -> None:
    """Send ``body`` (JSON bytes); 2xx is success, anything else raises :class:`DeliveryError`."""
    all_headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": "airflow-provider-databand-dbt"}
    all_headers.update(headers or {})
    host = url.host() or "the webhook"
    try:
        response = requests.post(
            url.reveal(), data=body, headers=all_headers, timeout=max(timeout, 0.05), allow_redirects=False
        )
    except requests.Timeout:
        raise DeliveryError(f"{host} did not answer within {timeout:.1f} s") from None
    except requests.RequestException as exc:
        raise DeliveryError(f"cannot reach {host} ({type(exc).__name__})") from None
    with response:
        if 200 <= response.status_code < 300:
            return
        answer = " ".join(response.text[:MAX_ANSWER_CHARS].split())
        message = redact(
            f"{host} answered HTTP {response.status_code}" + (f": {answer}" if answer else ""), [url, *secrets]
        )
        raise DeliveryError(message, retryable=response.status_code not in PERMANENT_STATUSES)
