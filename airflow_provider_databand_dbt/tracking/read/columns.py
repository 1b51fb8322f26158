"""Column lists derived from the structs the reader returns, and the small conversions every reader needs."""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from datetime import datetime, timezone
from typing import Optional

import msgspec
import sqlalchemy as sa
from sqlalchemy.engine import Connection

# Rows fetched from the store at a time when streaming (PostgreSQL: a server-side cursor).
BATCH_ROWS = 1_000


def field_names(struct: type, *, skip: tuple[str, ...] = ()) -> list[str]:
    """The struct's field names, in declaration order, minus ``skip``."""
    return [field.name for field in msgspec.structs.fields(struct) if field.name not in skip]


def columns(
    table: sa.FromClause,
    struct: type,
    *,
    skip: tuple[str, ...] = (),
    renamed: Optional[Mapping[str, sa.ColumnElement]] = None,
) -> list[sa.ColumnElement]:
    """One labelled column per field of ``struct``: ``table.c[field]``, or ``renamed[field]`` for the others."""
    renamed = renamed or {}
    return [renamed[name].label(name) if name in renamed else table.c[name] for name in field_names(struct, skip=skip)]


def aware(value: Optional[datetime]) -> Optional[datetime]:
    """Stored timestamps are UTC; SQLite hands them back naive, so make them aware again."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=timezone.utc)


@functools.cache
def _defaulted(struct: type) -> frozenset[str]:
    """Fields whose default is not None (a NULL column then takes the default: ``[]``, ``{}``, ``0``)."""
    return frozenset(
        field.name
        for field in msgspec.structs.fields(struct)
        if field.default_factory is not msgspec.NODEFAULT
        or (field.default is not msgspec.NODEFAULT and field.default is not None)
    )


def build(struct: type, row: sa.Row, *, skip: tuple[str, ...] = (), **extra):
    """``struct`` from a row selected with :func:`columns` (datetimes made aware), plus ``extra`` fields.

    :param skip: columns of the row that are not fields (a row key selected alongside).
    """
    defaulted = _defaulted(struct)
    values = {
        name: aware(value) if isinstance(value, datetime) else value
        for name, value in row._mapping.items()
        if name not in skip and (value is not None or name not in defaulted)
    }
    values.update(extra)
    return struct(**values)


def streamed(conn: Connection, query: sa.Select) -> Iterator[sa.Row]:
    """The query's rows, fetched ``BATCH_ROWS`` at a time."""
    result = conn.execute(query.execution_options(stream_results=True, yield_per=BATCH_ROWS))
    try:
        yield from result
    finally:
        result.close()
