#!/usr/bin/env python
"""Benchmark: storing one run with 10,000 node results into a fresh SQLite tracking store, and the store's footprint.

Target (issue 3): under 2 s. Two baselines, measured in the same run: ``executemany``, the
strongest simple store (one SQLAlchemy Core ``INSERT`` given every node's row as a dict, which
SQLAlchemy sends as one DB-API ``executemany``), and ``per-row``, one ``INSERT`` per node, both in
one transaction. Prints wall and CPU time of each (best of ``--repeat``) and the ratios; quote
the ``executemany`` one.

The baselines write v1's fat node_result rows (every manifest field repeated in each row).

Footprint: ``--footprint-runs`` runs of one job, each with the same ``--nodes`` nodes (as a scheduled
job's runs are), stored as v1 fat rows and through the v2 store; prints bytes per stored node
result (whole database: SQLite file size after VACUUM, PostgreSQL ``pg_database_size`` less an
empty store's) on SQLite and, with ``--postgres URL`` (a server where databases can be created), on
PostgreSQL.

Usage::

    python benchmarks/bench_store.py [--nodes 10000] [--repeat 3] [--footprint-runs 20] [--postgres URL]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import msgspec
import sqlalchemy as sa

from airflow_provider_databand_dbt.model.report import NodeResult, RunReport, StepReport
from airflow_provider_databand_dbt.model.source import TrackingSource
from airflow_provider_databand_dbt.tracking import schema
from airflow_provider_databand_dbt.tracking.migrations_node_definitions import node_results_v4
from airflow_provider_databand_dbt.tracking.store import TrackingStore

START = datetime(2026, 11, 25, 2, 0, tzinfo=timezone.utc)
STATUSES = ("success", "success", "success", "pass", "pass", "fail", "warn", "error", "skipped")


def make_report(node_count: int, run_id: int = 70403110009999) -> RunReport:
    nodes = []
    for i in range(node_count):
        status = STATUSES[i % len(STATUSES)]
        kind = "test" if status in ("pass", "fail", "warn") else "model"
        begun = START + timedelta(milliseconds=10 * i)
        nodes.append(
            NodeResult(
                unique_id=f"{kind}.big_project.node_{i}",
                name=f"node_{i}",
                resource_type=kind,
                status=status,
                execution_time=0.5,
                rows_affected=i if kind == "model" else None,
                message="Database Error: relation missing" if status == "error" else None,
                failures=1 if status == "fail" else None,
                depends_on=[f"model.big_project.node_{i - 1}"] if i else [],
                started_at=begun,
                finished_at=begun + timedelta(milliseconds=500),
                materialization="table" if kind == "model" else None,
                tags=["nightly"],
                package_name="big_project",
                code_hash=f"{i:064x}",
                thread_id=f"Thread-{i % 8}",
            )
        )
    step = StepReport(
        index=4,
        name="Invoke dbt with `dbt build`",
        command="dbt build",
        status="error",
        started_at=START,
        finished_at=START + timedelta(minutes=30),
        duration_seconds=1800.0,
        nodes=nodes,
    )
    return RunReport(
        host="cloud.getdbt.com",
        account_id=1,
        run_id=run_id,
        job_id=100,
        job_name="Nightly build",
        status="error",
        created_at=START,
        started_at=START,
        finished_at=START + timedelta(minutes=30),
        duration_seconds=1800.0,
        steps=[step],
    )


def timed(action) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    action()
    return time.perf_counter() - wall, time.process_time() - cpu


def ours(report: RunReport, directory: Path, attempt: int) -> tuple[float, float]:
    store = TrackingStore(f"sqlite:///{directory / f'ours-{attempt}.db'}")  # schema created before timing
    try:
        return timed(lambda: store.save_report(report, TrackingSource(kind="cli", name="bench")))
    finally:
        store.close()


V1_TABLES = [
    table
    for table in schema.metadata.sorted_tables
    if table not in (schema.nodes, schema.node_definitions, schema.node_results)
]


def create_v1_tables(engine: sa.Engine) -> None:
    """Today's tables but with v1's fat node_result (every manifest field in each row) instead of v2's three."""
    schema.metadata.create_all(engine, tables=V1_TABLES)
    node_results_v4.create(engine)


def save_v1(conn: sa.Connection, report: RunReport, batched: bool = True) -> None:
    """One run as a v1 store held it: a run row, step rows and one fat row per node result."""
    run_pk = conn.execute(
        schema.runs.insert().values(
            host=report.host,
            account_id=report.account_id,
            run_id=report.run_id,
            status=report.status,
            summary=report.summary,
            first_tracked_at=START,
            updated_at=START,
        )
    ).inserted_primary_key[0]
    columns = set(node_results_v4.c.keys())
    for step in report.steps:
        conn.execute(
            schema.steps.insert().values(
                run_pk=run_pk, step_index=step.index, name=step.name, status=step.status, artifacts_missing=[]
            )
        )
        rows = [
            {k: v for k, v in msgspec.structs.asdict(node).items() if k in columns}
            | {"run_pk": run_pk, "step_index": step.index}
            for node in step.nodes
        ]
        if batched:
            conn.execute(node_results_v4.insert(), rows)
        else:
            for row in rows:
                conn.execute(node_results_v4.insert().values(**row))


def _baseline(report: RunReport, database: Path, batched: bool) -> tuple[float, float]:
    engine = sa.create_engine(f"sqlite:///{database}")
    create_v1_tables(engine)

    def save() -> None:
        with engine.begin() as conn:
            save_v1(conn, report, batched)

    try:
        return timed(save)
    finally:
        engine.dispose()


def executemany(report: RunReport, directory: Path, attempt: int) -> tuple[float, float]:
    return _baseline(report, directory / f"executemany-{attempt}.db", batched=True)


def per_row(report: RunReport, directory: Path, attempt: int) -> tuple[float, float]:
    return _baseline(report, directory / f"per-row-{attempt}.db", batched=False)


def footprint(url: str, version: int, runs: int, nodes: int) -> float:
    """Bytes per stored node result of ``runs`` runs of one job with ``nodes`` nodes each, v1 or v2 layout."""
    reports = [make_report(nodes, run_id=70403110000000 + i) for i in range(runs)]
    if version == 2:
        TrackingStore(url).close()
    else:
        engine = sa.create_engine(url)
        create_v1_tables(engine)
        engine.dispose()
    empty = _database_bytes(url)
    if version == 2:
        with TrackingStore(url) as store:
            for report in reports:
                store.save_report(report, TrackingSource(kind="cli", name="bench"))
    else:
        engine = sa.create_engine(url)
        with engine.begin() as conn:
            for report in reports:
                save_v1(conn, report)
        engine.dispose()
    return (_database_bytes(url) - empty) / (runs * nodes)


def _database_bytes(url: str) -> int:
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            if engine.dialect.name == "sqlite":
                conn.exec_driver_sql("VACUUM")
                return int(conn.exec_driver_sql("PRAGMA page_count").scalar()) * int(
                    conn.exec_driver_sql("PRAGMA page_size").scalar()
                )
            conn.exec_driver_sql("VACUUM ANALYZE")
            return int(conn.exec_driver_sql("SELECT pg_database_size(current_database())").scalar())
    finally:
        engine.dispose()


def _postgres_database(server: str, name: str, create: bool) -> str:
    url = sa.engine.make_url(server)
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if create:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--footprint-runs", type=int, default=20)
    parser.add_argument("--postgres", help="a PostgreSQL server URL where the footprint may create databases")
    args = parser.parse_args()
    report = make_report(args.nodes)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, contender in (("ours", ours), ("executemany", executemany), ("per-row", per_row)):
            runs = [contender(report, Path(tmp), attempt) for attempt in range(args.repeat)]
            results[name] = min(runs)
        sizes = {
            ("sqlite", version): footprint(
                f"sqlite:///{Path(tmp) / f'footprint-v{version}.db'}", version, args.footprint_runs, args.nodes
            )
            for version in (1, 2)
        }
    if args.postgres:
        for version in (1, 2):
            url = _postgres_database(args.postgres, f"bench_store_v{version}", create=True)
            try:
                sizes[("postgresql", version)] = footprint(url, version, args.footprint_runs, args.nodes)
            finally:
                _postgres_database(args.postgres, f"bench_store_v{version}", create=False)
    print(f"store one run with {args.nodes:,} node results into SQLite (best of {args.repeat})")
    print(f"{'contender':<12} {'wall s':>8} {'cpu s':>8}")
    for name, (wall, cpu) in results.items():
        print(f"{name:<12} {wall:>8.3f} {cpu:>8.3f}")
    ours_wall = results["ours"][0]
    for name in ("executemany", "per-row"):
        print(f"ratio: ours is {results[name][0] / ours_wall:.1f}x faster than {name}")
    print(f"target < 2 s: {'met' if ours_wall < 2 else 'NOT met'} ({ours_wall:.2f} s)")
    print()
    print(f"footprint: {args.footprint_runs} runs x {args.nodes:,} nodes of one job, bytes per stored node result")
    print(f"{'database':<11} {'v1 (fat rows)':>14} {'v2':>8} {'v2/v1':>6}")
    for dialect in ("sqlite", "postgresql"):
        if (dialect, 1) in sizes:
            v1, v2 = sizes[(dialect, 1)], sizes[(dialect, 2)]
            print(f"{dialect:<11} {v1:>14,.0f} {v2:>8,.0f} {v2 / v1:>6.2f}")


if __name__ == "__main__":
    main()
