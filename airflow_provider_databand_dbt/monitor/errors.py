"""Sort failures into the bounded ``kind`` label of ``databand_dbt_monitor_errors_total`` and decide what they cost."""

from __future__ import annotations

from typing import Optional

import sqlalchemy as sa

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

# A single run that fails this way is skipped (recorded, retried later with backoff) instead of blocking the
# syncer: deleted run, a response that never decodes, an exception while collecting it. Errors of the
# account or the store (auth, 5xx, timeouts, store down) stop the iteration, which is retried after a backoff.
RUN_LEVEL_KINDS = frozenset({"not_found", "invalid_response", "internal"})


def error_kind(exc: BaseException) -> str:
    """``auth``, ``server``, ``store``... or ``internal`` for anything unexpected (a bug: logged with traceback)."""
    for cls, kind in _KINDS:
        if isinstance(exc, cls):
            return kind
    if type(exc).__module__.startswith("sqlalchemy"):
        return "store"
    return "internal"


def is_poison(exc: BaseException) -> bool:
    """True when the failure belongs to one run (skip it and move on), not to the account or the store."""
    kind = error_kind(exc)
    if kind in RUN_LEVEL_KINDS:
        return True
    return kind == "store" and _store_refused_value(exc)


def _store_refused_value(exc: BaseException) -> bool:
    """The store is up but refuses this run's data (a value too long, not encodable, a constraint)."""
    cause = exc if isinstance(exc, sa.exc.SQLAlchemyError) else exc.__cause__
    if isinstance(cause, (sa.exc.DataError, sa.exc.IntegrityError)):
        return True
    # Raised while binding parameters, before the database saw anything (not a DBAPI error).
    return isinstance(cause, sa.exc.StatementError) and not isinstance(cause, sa.exc.DBAPIError)


def retry_after(exc: BaseException) -> Optional[float]:
    """Seconds dbt Cloud asked us to wait (429 ``Retry-After``), when the error carries it."""
    value = getattr(exc, "retry_after", None)
    return float(value) if isinstance(value, (int, float)) and value > 0 else None


def describe(exc: BaseException) -> str:
    """``kind: message`` for logs and ``/health``; our error messages never contain the token."""
    return f"{error_kind(exc)}: {exc}"
