"""The PostgreSQL builder of bench_web: the same rows as the SQLite stores, loaded with ``COPY``.

INSERTs of 20 million node results take hours on PostgreSQL, and so does ``COPY`` into a table
whose unique key, indexes and foreign keys are checked row by row. So the schema is created by
TrackingStore (exactly as a real store), the node_result table's constraints and indexes are read
from the catalog and dropped, the rows are streamed with ``COPY ... FROM STDIN``, and the same
definitions are put back (one sort per index, one validation per foreign key) before ``ANALYZE``.
"""

from __future__ import annotations

import sys
import time

import bench_web
import psycopg
import sqlalchemy as sa

RESULTS = "dbt_tracking_node_result"
SEQUENCES = ("dbt_tracking_pipeline", "dbt_tracking_node", "dbt_tracking_node_definition", "dbt_tracking_run")


def database_url(server_url: str, name: str) -> str:
    """The SQLAlchemy URL of database ``name`` on the server of ``server_url``."""
    return sa.engine.make_url(server_url).set(database=name).render_as_string(hide_password=False)


def _conninfo(url: str) -> str:
    """A libpq URI for psycopg from a ``postgresql+psycopg://`` URL."""
    return sa.engine.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def database_exists(server_url: str, name: str) -> bool:
    with psycopg.connect(_conninfo(server_url), autocommit=True) as admin:
        return admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is not None


def create_database(server_url: str, name: str) -> str:
    """A new empty database ``name`` (dropped first if it exists); its URL."""
    drop_database(server_url, name)
    with psycopg.connect(_conninfo(server_url), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    return database_url(server_url, name)


def drop_database(server_url: str, name: str) -> None:
    with psycopg.connect(_conninfo(server_url), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def build_store(server_url: str, name: str, runs_total: int, nodes_per_run: int) -> str:
    """(Re)create database ``name`` on the server of ``server_url`` holding the bench store; its URL."""
    from airflow_provider_databand_dbt.tracking.store import TrackingStore

    url = create_database(server_url, name)
    TrackingStore(url).close()
    with psycopg.connect(_conninfo(url)) as db:
        db.execute("SET TimeZone = 'UTC'")  # the builder's timestamps are UTC without an offset
        db.execute("SET maintenance_work_mem = '256MB'")
        saved = _drop_constraints(db, RESULTS)
        pipelines, nodes, definitions = bench_web.static_rows(nodes_per_run)
        _copy(db, "dbt_tracking_pipeline", bench_web.PIPELINE_COLUMNS, pipelines)
        _copy(db, "dbt_tracking_node", bench_web.NODE_COLUMNS, nodes)
        _copy(db, "dbt_tracking_node_definition", bench_web.DEFINITION_COLUMNS, definitions)
        _copy_runs(db, name, runs_total, nodes_per_run)
        for table in SEQUENCES:  # ids were given: later inserts continue after them
            db.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
        started = time.perf_counter()
        for statement in saved:
            db.execute(statement)
        print(
            f"  {name}: constraints and indexes of {RESULTS} in {time.perf_counter() - started:.0f}s", file=sys.stderr
        )
        db.commit()
    bench_web.recount_store(url)
    with psycopg.connect(_conninfo(url), autocommit=True) as db:
        db.execute("ANALYZE")
    return url


def _copy_runs(db: psycopg.Connection, name: str, runs_total: int, nodes_per_run: int) -> None:
    """Stream every run's node results with one ``COPY`` (one COPY at a time per connection), then the
    runs, steps and sources buffered meanwhile (a few rows per run)."""
    runs: list[tuple] = []
    steps: list[tuple] = []
    sources: list[tuple] = []
    with db.cursor().copy(_copy_sql(RESULTS, bench_web.RESULT_COLUMNS)) as copy:
        for r, (run, run_steps, results, source) in enumerate(bench_web.run_rows(runs_total, nodes_per_run)):
            runs.append(run)
            steps.extend(run_steps)
            sources.append(source)
            for row in results:
                copy.write_row(row)
            if r % 500 == 499:
                print(f"  {name}: {r + 1}/{runs_total} runs", file=sys.stderr)
    _copy(db, "dbt_tracking_run", bench_web.RUN_COLUMNS, runs)
    _copy(db, "dbt_tracking_step", bench_web.STEP_COLUMNS, steps)
    _copy(db, "dbt_tracking_source", bench_web.SOURCE_COLUMNS, sources)


def _copy_sql(table: str, columns: tuple[str, ...]) -> str:
    return f"COPY {table} ({', '.join(columns)}) FROM STDIN"


def _copy(db: psycopg.Connection, table: str, columns: tuple[str, ...], rows: list[tuple]) -> None:
    with db.cursor().copy(_copy_sql(table, columns)) as copy:
        for row in rows:
            copy.write_row(row)


def _drop_constraints(db: psycopg.Connection, table: str) -> list[str]:
    """Drop ``table``'s constraints and other indexes; the statements that put them back, keys first."""
    constraints = db.execute(
        "SELECT conname, pg_get_constraintdef(oid), contype FROM pg_constraint "
        "WHERE conrelid = %s::regclass ORDER BY contype = 'f', conname",
        (table,),
    ).fetchall()
    indexes = db.execute(
        "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s AND indexname NOT IN "
        "(SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass) ORDER BY indexname",
        (table, table),
    ).fetchall()
    for name, _, _ in reversed(constraints):
        db.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    for name, _ in indexes:
        db.execute(f'DROP INDEX "{name}"')
    return [f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}' for name, definition, _ in constraints] + [
        definition for _, definition in indexes
    ]
