"""Lenient parsing of what people type into addresses: ids, page numbers, dates, statuses.

Pages take raw strings and parse them here, so a bad value gets a readable 400/404 page instead of a
framework validation dump.
"""

from __future__ import annotations

from typing import NamedTuple, Optional

from fastapi import Request

from airflow_provider_databand_dbt.model.status import RUN_LABELS
from airflow_provider_databand_dbt.tracking.read.filters import BadBound, RunFilter
from airflow_provider_databand_dbt.www.errors import BadRequest, NotFound

RUN_STATUSES = RUN_LABELS
MAX_PAGE_SIZE = 500
NODE_PAGE_SIZE = 100
# Ids are 64-bit integers in the store (and in SQLite/PostgreSQL); a bigger one cannot match anything.
MAX_ID = 2**63 - 1
# Far past any real list, small enough that page * page_size stays a valid OFFSET.
MAX_PAGE = 1_000_000


def dbt_id(text: str, what: str) -> int:
    """A dbt Cloud id from the address; anything else is simply not found."""
    try:
        value = int(text)
    except (TypeError, ValueError):
        raise NotFound(f"{what} id must be a number, not {text!r}.", title=f"Unknown {what}") from None
    if value <= 0:
        raise NotFound(f"{what} id must be a positive number, not {text!r}.", title=f"Unknown {what}")
    if value > MAX_ID:
        raise NotFound(f"There is no {what} {value}: ids go up to {MAX_ID}.", title=f"Unknown {what}")
    return value


def optional_int(text: Optional[str], name: str) -> Optional[int]:
    if text is None or text.strip() == "":
        return None
    try:
        value = int(text)
    except ValueError:
        raise BadRequest(f"{name} must be a number, not {text!r}.") from None
    if abs(value) > MAX_ID:
        raise BadRequest(f"{name} must be a number up to {MAX_ID}, not {text!r}.")
    return value


def page_number(text: Optional[str]) -> int:
    """Page numbers start at 1 (nonsense falls back to the first page) and stop at ``MAX_PAGE``."""
    try:
        return min(max(int(text or 1), 1), MAX_PAGE)
    except ValueError:
        return 1


def page_size(text: Optional[str], default: int) -> int:
    try:
        value = int(text) if text else default
    except ValueError:
        return default
    return min(max(value, 1), MAX_PAGE_SIZE)


def run_status(text: Optional[str]) -> Optional[str]:
    if not text:
        return None
    if text not in RUN_STATUSES:
        raise BadRequest(f"status must be one of {', '.join(RUN_STATUSES)}, not {text!r}.")
    return text


def run_filter(status: Optional[str] = None, since: Optional[str] = None, until: Optional[str] = None) -> RunFilter:
    """``?status=&since=&until=``: the reader's one date rule (a UTC day or instant; ``until`` a day is included)."""
    try:
        return RunFilter(status=run_status(status), since=since, until=until)
    except BadBound as error:
        raise BadRequest(str(error)) from None


def text(value: Optional[str], limit: int = 200) -> Optional[str]:
    """A free-text filter, trimmed; blank counts as unset."""
    if value is None:
        return None
    value = value.strip()[:limit]
    return value or None


# --- query parameters shared by the pages and the JSON API (FastAPI dependencies) ---------------


class Ref(NamedTuple):
    """A dbt Cloud id from the address, with the ``account``/``host`` that pick one when several share it."""

    id: Optional[int]
    account_id: Optional[int]
    host: Optional[str]


class NodeFilter(NamedTuple):
    status: Optional[str]
    resource_type: Optional[str]
    search: Optional[str]
    step_index: Optional[int]


class Paging(NamedTuple):
    page: int
    size: int


class NodeWindow(NamedTuple):
    """Where a page of a run's nodes starts (an opaque ``cursor`` from the previous page's ``next``) and its size."""

    cursor: int
    limit: int


def pipeline_ref(job_id: str, account: Optional[str] = None, host: Optional[str] = None) -> Ref:
    return Ref(dbt_id(job_id, "pipeline"), optional_int(account, "account"), host)


def run_ref(run_id: str, account: Optional[str] = None, host: Optional[str] = None) -> Ref:
    return Ref(dbt_id(run_id, "run"), optional_int(account, "account"), host)


def job_ref(job_id: Optional[str] = None, account: Optional[str] = None, host: Optional[str] = None) -> Ref:
    """An optional job to narrow a list to (``?job_id=``)."""
    return Ref(optional_int(job_id, "job_id"), optional_int(account, "account"), host)


def node_filter(
    status: Optional[str] = None, type: Optional[str] = None, q: Optional[str] = None, step: Optional[str] = None
) -> NodeFilter:
    """The Run page's node table filters: status, resource type, free text, step."""
    return NodeFilter(text(status), text(type), text(q), optional_int(step, "step"))


def page_paging(request: Request, page: Optional[str] = None) -> Paging:
    """Pages show the configured number of rows."""
    return Paging(page_number(page), request.app.state.settings.page_size)


def api_paging(request: Request, page: Optional[str] = None, page_size: Optional[str] = None) -> Paging:
    """API callers may ask for another page size (up to ``MAX_PAGE_SIZE``)."""
    return Paging(page_number(page), _size(page_size, request.app.state.settings.page_size))


def node_paging(page: Optional[str] = None, page_size: Optional[str] = None) -> Paging:
    return Paging(page_number(page), _size(page_size, NODE_PAGE_SIZE))


def node_window(cursor: Optional[str] = None, limit: Optional[str] = None) -> NodeWindow:
    """``?cursor=&limit=`` of the whole-run endpoints: ``limit`` defaults to and stops at the documented bounds."""
    from airflow_provider_databand_dbt.tracking.read.report import DEFAULT_NODES_PER_PAGE, MAX_NODES_PER_PAGE

    start = optional_int(cursor, "cursor") or 0
    if start < 0:
        raise BadRequest(f"cursor must be a value from a previous page's next link, not {cursor!r}.")
    try:
        size = int(limit) if limit else DEFAULT_NODES_PER_PAGE
    except ValueError:
        raise BadRequest(f"limit must be a number, not {limit!r}.") from None
    return NodeWindow(start, min(max(size, 1), MAX_NODES_PER_PAGE))


# The paging dependencies take a ``page_size`` query parameter, which hides the function of that name.
_size = page_size
