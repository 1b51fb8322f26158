"""Schema version 2: hostile values fit, and a later snapshot never erases stored nodes.

- Every text column filled from dbt Cloud or an artifact becomes TEXT (was VARCHAR(n): a job name or
  branch over 1024 characters made PostgreSQL refuse the whole run); only indexed columns keep a length.
- ``node_result.failures`` becomes BIGINT (a test may report 2^31 failing rows or more).
- ``run.notes`` (JSON list, default ``[]``): values the store had to clamp or drop, in words.
- ``step.reread_failed`` (JSON, nullable): a later collection that could not re-read the step's artifacts.

PostgreSQL changes column types in place. SQLite ignores declared lengths and has one INTEGER
storage class, so its rows need no change: new columns are added with ``ADD COLUMN``, and then each
table's recorded ``CREATE TABLE`` text is replaced by the one a fresh v2 store has (the procedure of
https://www.sqlite.org/lang_altertable.html#otheralter for changes that leave stored rows valid), so
an upgraded store and a fresh one have the same schema. Dropping and copying the tables instead would
cascade-delete every step and node on a SQLite store with foreign keys on.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from airflow_provider_databand_dbt.tracking.schema import PREFIX
from airflow_provider_databand_dbt.tracking.schema_history import tables

# Columns whose type changed in v2, and columns v2 added (appended, so fresh and upgraded tables match).
RETYPED = {
    f"{PREFIX}pipeline": ("name", "project_name", "environment_name"),
    f"{PREFIX}run": ("job_name", "project_name", "environment_name", "git_branch", "git_sha", "dbt_version"),
    f"{PREFIX}node_result": (
        "name",
        "resource_type",
        "failures",
        "materialization",
        "package_name",
        "code_hash",
        "thread_id",
    ),
}
ADDED = {f"{PREFIX}run": ("notes",), f"{PREFIX}step": ("reread_failed",)}


def upgrade_to_v2(conn: Connection) -> None:
    """Bring a version 1 store to version 2 inside the caller's transaction; nothing stored is lost.

    The target is the frozen v2 tables of ``schema_history``, never ``schema.py``: later revisions change those.
    """
    v2 = tables(2).tables
    retyped = {v2[name]: columns for name, columns in RETYPED.items()}
    for table_name, added in ADDED.items():
        for name in added:
            column_sql = sa.schema.CreateColumn(v2[table_name].c[name]).compile(dialect=conn.dialect)
            conn.exec_driver_sql(f"ALTER TABLE {table_name} ADD COLUMN {column_sql}")
    if conn.dialect.name == "sqlite":
        _rewrite_sqlite_tables(conn, [*retyped, *(v2[name] for name in ADDED)])
        return
    for table, columns in retyped.items():
        changes = ", ".join(
            f"ALTER COLUMN {name} TYPE {table.c[name].type.compile(dialect=conn.dialect)}" for name in columns
        )
        conn.exec_driver_sql(f"ALTER TABLE {table.name} {changes}")


def _rewrite_sqlite_tables(conn: Connection, rewritten: list[sa.Table]) -> None:
    """Record each table's fresh ``CREATE TABLE`` text; only declared types differ, and SQLite stores rows alike."""
    for table in dict.fromkeys(rewritten):
        stored = [row[1] for row in conn.exec_driver_sql(f"PRAGMA table_info({table.name})")]
        expected = [column.name for column in table.c]
        if stored != expected:
            raise sa.exc.InvalidRequestError(
                f"table {table.name} has columns {stored}, expected {expected}: was the schema changed by hand?"
            )
    version = conn.exec_driver_sql("PRAGMA schema_version").scalar_one()
    conn.exec_driver_sql("PRAGMA writable_schema = ON")
    try:
        for table in dict.fromkeys(rewritten):
            create_sql = str(sa.schema.CreateTable(table).compile(dialect=conn.dialect)).strip()
            conn.exec_driver_sql(
                "UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = ?", (create_sql, table.name)
            )
        # Other connections re-read the schema when its version changes.
        conn.exec_driver_sql(f"PRAGMA schema_version = {int(version) + 1}")
    finally:
        conn.exec_driver_sql("PRAGMA writable_schema = OFF")
