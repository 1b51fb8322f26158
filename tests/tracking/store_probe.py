"""Reading a store's schema from outside the package, as the migration and upgrade tests check it."""
from __future__ import annotations

import contextlib
from collections.abc import Iterator

import sqlalchemy as sa

from airflow_provider_databand_dbt.tracking import schema
from airflow_provider_databand_dbt.tracking.migrations import VERSION_TABLE


@contextlib.contextmanager
def engine_for(url: str, **options) -> Iterator[sa.Engine]:
    """An engine of its own, disposed afterwards so no connection outlives the check (PostgreSQL drops the DB)."""
    engine = sa.create_engine(url, **options)
    try:
        yield engine
    finally:
        engine.dispose()


def legacy_versions(url: str) -> list[int]:
    """The versions in the legacy table, oldest first (since Alembic: only its fence)."""
    with engine_for(url) as engine, engine.connect() as conn:
        return list(conn.execute(sa.select(schema.schema_version.c.version).order_by("version")).scalars())


def schema_revisions(url: str) -> list[str]:
    """The Alembic revisions stamped in the store ([] before Alembic managed it)."""
    with engine_for(url) as engine, engine.connect() as conn:
        if not sa.inspect(conn).has_table(VERSION_TABLE):
            return []
        return sorted(conn.exec_driver_sql(f"SELECT version_num FROM {VERSION_TABLE}").scalars())


def table_names(url: str) -> set[str]:
    with engine_for(url) as engine:
        return set(sa.inspect(engine).get_table_names())
