"""Reading a store's schema from outside the package, as the migration and upgrade tests check it."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa

from airflow_provider_databand_dbt.tracking import schema
from airflow_provider_databand_dbt.tracking.migrations import VERSION_TABLE

DATA = Path(__file__).parent / "data"


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


def schema_shape(url: str) -> dict:
    """Every table's columns (name, type, nullability, default), indexes, unique and foreign keys, as reflected."""
    with engine_for(url) as engine:
        inspector = sa.inspect(engine)
        shape = {}
        for table in sorted(inspector.get_table_names()):
            shape[table] = {
                "columns": [
                    (c["name"], str(c["type"]), c["nullable"], str(c.get("default")))
                    for c in inspector.get_columns(table)
                ],
                "pk": inspector.get_pk_constraint(table)["constrained_columns"],
                "indexes": sorted(
                    (i["name"], tuple(i["column_names"]), bool(i["unique"])) for i in inspector.get_indexes(table)
                ),
                "unique": sorted(
                    (u["name"], tuple(u["column_names"])) for u in inspector.get_unique_constraints(table)
                ),
                "foreign_keys": sorted(
                    (
                        tuple(f["constrained_columns"]),
                        f["referred_table"],
                        tuple(f["referred_columns"]),
                        str(f.get("options", {}).get("ondelete")),
                    )
                    for f in inspector.get_foreign_keys(table)
                ),
            }
        return shape


@contextlib.contextmanager
def twin_url(url: str, tmp_path) -> Iterator[str]:
    """A second, empty database on the same backend as ``url`` (PostgreSQL: created and dropped here)."""
    if url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'twin.db'}"
        return
    twin = sa.engine.make_url(url).set(database=f"{sa.engine.make_url(url).database}_twin")
    with engine_for(url, isolation_level="AUTOCOMMIT") as admin:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{twin.database}"')
        try:
            yield twin.render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{twin.database}" WITH (FORCE)')


def load_legacy_fixture(url: str, prefix: str) -> None:
    """Put a legacy fixture store (``data/<prefix>_*``) at ``url``: the SQLite file copied, or rebuilt on PostgreSQL."""
    if url.startswith("sqlite"):
        shutil.copy(DATA / f"{prefix}_store.db", sa.engine.make_url(url).database)
        return
    _build_postgres(url, prefix)


def read_only_fixture(prefix: str) -> str:
    """Read-only, so no test can change the committed fixture."""
    return f"sqlite:///file:{DATA / f'{prefix}_store.db'}?mode=ro&uri=true"


def _build_postgres(url: str, prefix: str) -> None:
    source, target = sa.create_engine(read_only_fixture(prefix)), sa.create_engine(url)
    try:
        with target.begin() as conn:
            conn.exec_driver_sql("SET TIME ZONE 'UTC'")  # SQLite holds naive UTC timestamps
            for statement in (DATA / f"{prefix}_postgresql.sql").read_text().split(";\n"):
                if statement.strip():
                    conn.exec_driver_sql(statement)
            with source.connect() as reader:
                stored = sa.MetaData()
                stored.reflect(reader)
                for copied in stored.sorted_tables:  # the fixture's own tables, in foreign-key order
                    rows = [dict(row._mapping) for row in reader.execute(sa.select(copied))]
                    if rows:
                        conn.execute(sa.Table(copied.name, sa.MetaData(), autoload_with=conn).insert(), rows)
                    if "id" in copied.c:
                        conn.exec_driver_sql(
                            f"SELECT setval(pg_get_serial_sequence('{copied.name}', 'id'), "
                            f"(SELECT COALESCE(MAX(id), 0) + 1 FROM {copied.name}), false)"
                        )
    finally:
        source.dispose()
        target.dispose()
