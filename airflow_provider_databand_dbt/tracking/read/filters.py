"""Which runs a list shows: one meaning of "since" and "until" for the CLI, the web pages and the JSON API.

A run matches when ``start <= created_at < end`` (half-open, UTC):

- ``since`` is an instant or a day; a day starts at its 00:00 UTC;
- ``until`` is an instant (excluded) or a day (included: the range ends at the next day's 00:00 UTC);
- an instant without an offset is UTC.

So ``since=2026-11-25&until=2026-11-25`` is that whole UTC day, and ``until=2026-11-25T12:00`` stops just
before noon. Runs without ``created_at`` never match a date filter.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time, timedelta, timezone
from typing import Optional, Union

import sqlalchemy as sa

from airflow_provider_databand_dbt.tracking.schema import runs

Bound = Union[date, datetime, str, None]
StatusFilter = Union[str, Sequence[str], None]


class BadBound(ValueError):
    """A since/until value that is neither a day nor an instant (the message names which and shows examples)."""


def parse_bound(value: Bound, name: str) -> Union[date, datetime, None]:
    """``value`` as a day (``date``) or an aware UTC instant (``datetime``); None for nothing."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, str):
        text = value.strip()
        try:
            if len(text) == 10:
                return date.fromisoformat(text)
            value = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            raise BadBound(
                f"{name} must be a date like 2026-11-25 (a UTC day) or an instant like 2026-11-25T08:30:00Z, "
                f"not {text!r}."
            ) from None
    if isinstance(value, datetime):
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)
    return value


def instant(value: Union[date, datetime, None], *, end: bool) -> Optional[datetime]:
    """Where the range starts (``end=False``) or stops (``end=True``) for a parsed bound."""
    if value is None or isinstance(value, datetime):
        return value
    day = value + timedelta(days=1) if end else value
    return datetime.combine(day, time.min, tzinfo=timezone.utc)


class RunFilter:
    """Status and date filters of a runs list.

    :param status: one status, or several (any of them).
    :param since: a day or instant (see the module); kept as given in ``since`` for forms.
    :param until: a day (included) or instant (excluded).
    :raises BadBound: for text that is neither, or a ``since`` after the ``until``.
    """

    def __init__(self, *, status: StatusFilter = None, since: Bound = None, until: Bound = None) -> None:
        self.status = status
        self.since = parse_bound(since, "since")
        self.until = parse_bound(until, "until")
        self.start = instant(self.since, end=False)
        self.end = instant(self.until, end=True)
        if self.start is not None and self.end is not None and self.start >= self.end:
            raise BadBound(f"since ({since}) is after until ({until}): no run can match.")

    def clauses(self, *, with_status: bool = True) -> list[sa.ColumnElement]:
        found: list[sa.ColumnElement] = []
        if with_status and isinstance(self.status, str):
            found.append(runs.c.status == self.status)
        elif with_status and self.status:
            found.append(runs.c.status.in_(list(self.status)))
        if self.start is not None:
            found.append(runs.c.created_at >= self.start)
        if self.end is not None:
            found.append(runs.c.created_at < self.end)
        return found

    @property
    def dated(self) -> bool:
        return self.start is not None or self.end is not None

    def __bool__(self) -> bool:
        return bool(self.status) or self.dated
