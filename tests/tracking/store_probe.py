"""Reading a store's schema from outside the package, as the migration and upgrade tests check it."""
from __future__ import annotations

import contextlib
from collections.abc import Iterator

import sqlalchemy as sa

from airflow_provider_databand_dbt.tracking import schema


@contextlib.contextmanager
def engine_for(url: str, **options) -> Iterator[sa.Engine]:
    """An engine of its own, disposed afterwards so no connection outlives the check (PostgreSQL drops the DB)."""
    engine = sa.create_engine(url, **options)
    try:
        yield engine
    finally:
        engine.dispose()


def schema_versions(url: str) -> list[int]:
    """The versions stamped in the store, oldest first."""
    with engine_for(url) as engine, engine.connect() as conn:
        return list(conn.execute(sa.select(schema.schema_version.c.version).order_by("version")).scalars())


def table_names(url: str) -> set[str]:
    with engine_for(url) as engine:
        return set(sa.inspect(engine).get_table_names())
