"""Sort failures into the bounded ``kind`` label of ``databand_dbt_monitor_errors_total`` and decide what they cost."""
from __future__ import annotations

from typing import Optional

from airflow_provider_databand_dbt.dbt_cloud import errors as api
from airflow_provider_databand_dbt.tracking.errors import TrackingError

class LeaseLost(Exception):
    """Another monitor took over this syncer's lease while we worked (we were slower than the lease TTL)."""


_KINDS = (
    (api.DbtCloudAuthError, "auth"),
    (api.DbtCloudForbiddenError, "forbidden"),
    (api.DbtCloudNotFoundError, "not_found"),
    (api.DbtCloudRateLimitError, "rate_limited"),
    (api.DbtCloudServerError, "server"),
    (api.DbtCloudTimeoutError, "timeout"),
    (api.DbtCloudConnectionError, "connection"),
    (api.DbtCloudInvalidResponseError, "invalid_response"),
    (api.ArtifactError, "invalid_response"),
    (TrackingError, "store"),
    (LeaseLost, "lease"),
)

# A single run that fails this way is skipped after a few attempts instead of blocking the syncer forever
# (deleted run, a response that never decodes); every other error stops the iteration and is retried later.
RUN_LEVEL_KINDS = frozenset({"not_found", "invalid_response"})


def error_kind(exc: BaseException) -> str:
    """``auth``, ``server``, ``store``... or ``internal`` for anything unexpected (a bug: logged with traceback)."""
    for cls, kind in _KINDS:
        if isinstance(exc, cls):
            return kind
    if type(exc).__module__.startswith("sqlalchemy"):
        return "store"
    return "internal"


def retry_after(exc: BaseException) -> Optional[float]:
    """Seconds dbt Cloud asked us to wait (429 ``Retry-After``), when the error carries it."""
    value = getattr(exc, "retry_after", None)
    return float(value) if isinstance(value, (int, float)) and value > 0 else None


def describe(exc: BaseException) -> str:
    """``kind: message`` for logs and ``/health``; our error messages never contain the token."""
    return f"{error_kind(exc)}: {exc}"
