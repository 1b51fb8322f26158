"""Lenient parsing of what people type into addresses: ids, page numbers, dates, statuses.

Pages take raw strings and parse them here, so a bad value gets a readable 400/404 page instead of a
framework validation dump.
"""
from __future__ import annotations

from datetime import date
from typing import Optional

from airflow_provider_databand_dbt.www.errors import BadRequest, NotFound
from airflow_provider_databand_dbt.www.queries import RunFilter

RUN_STATUSES = ("queued", "starting", "running", "success", "error", "cancelled")
MAX_PAGE_SIZE = 500


def dbt_id(text: str, what: str) -> int:
    """A dbt Cloud id from the address; anything else is simply not found."""
    try:
        value = int(text)
    except (TypeError, ValueError):
        raise NotFound(f"{what} id must be a number, not {text!r}.", title=f"Unknown {what}") from None
    if value <= 0:
        raise NotFound(f"{what} id must be a positive number, not {text!r}.", title=f"Unknown {what}")
    return value


def optional_int(text: Optional[str], name: str) -> Optional[int]:
    if text is None or text.strip() == "":
        return None
    try:
        return int(text)
    except ValueError:
        raise BadRequest(f"{name} must be a number, not {text!r}.") from None


def page_number(text: Optional[str]) -> int:
    """Page numbers start at 1; nonsense falls back to the first page."""
    try:
        return max(int(text or 1), 1)
    except ValueError:
        return 1


def page_size(text: Optional[str], default: int) -> int:
    try:
        value = int(text) if text else default
    except ValueError:
        return default
    return min(max(value, 1), MAX_PAGE_SIZE)


def day(text: Optional[str], name: str) -> Optional[date]:
    if text is None or text.strip() == "":
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise BadRequest(f"{name} must be a date like 2026-11-25, not {text!r}.") from None


def run_status(text: Optional[str]) -> Optional[str]:
    if not text:
        return None
    if text not in RUN_STATUSES:
        raise BadRequest(f"status must be one of {', '.join(RUN_STATUSES)}, not {text!r}.")
    return text


def run_filter(status: Optional[str], since: Optional[str], until: Optional[str]) -> RunFilter:
    start, end = day(since, "since"), day(until, "until")
    if start and end and start > end:
        raise BadRequest(f"since ({start}) is after until ({end}).")
    return RunFilter(status=run_status(status), since=start, until=end)


def text(value: Optional[str], limit: int = 200) -> Optional[str]:
    """A free-text filter, trimmed; blank counts as unset."""
    if value is None:
        return None
    value = value.strip()[:limit]
    return value or None
