#!/usr/bin/env python
"""Benchmark: storing one run with 10,000 node results into a fresh SQLite tracking store.

Target (issue 3): under 2 s. Two baselines, measured in the same run: ``executemany``, the
strongest simple store (one SQLAlchemy Core ``INSERT`` given every node's row as a dict, which
SQLAlchemy sends as one DB-API ``executemany``), and ``per-row``, one ``INSERT`` per node, both in
one transaction. Prints wall and CPU time of each (best of ``--repeat``) and the ratios; quote
the ``executemany`` one.

Usage::

    python benchmarks/bench_store.py [--nodes 10000] [--repeat 3]
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
from airflow_provider_databand_dbt.tracking import schema
from airflow_provider_databand_dbt.model.source import TrackingSource
from airflow_provider_databand_dbt.tracking.store import TrackingStore

START = datetime(2026, 11, 25, 2, 0, tzinfo=timezone.utc)
STATUSES = ("success", "success", "success", "pass", "pass", "fail", "warn", "error", "skipped")


def make_report(node_count: int) -> RunReport:
    nodes = []
    for i in range(node_count):
        status = STATUSES[i % len(STATUSES)]
        kind = "test" if status in ("pass", "fail", "warn") else "model"
        begun = START + timedelta(milliseconds=10 * i)
        nodes.append(
            NodeResult(
                unique_id=f"{kind}.big_project.node_{i}", name=f"node_{i}", resource_type=kind, status=status,
                execution_time=0.5, rows_affected=i if kind == "model" else None,
                message="Database Error: relation missing" if status == "error" else None,
                failures=1 if status == "fail" else None, depends_on=[f"model.big_project.node_{i - 1}"] if i else [],
                started_at=begun, finished_at=begun + timedelta(milliseconds=500),
                materialization="table" if kind == "model" else None, tags=["nightly"],
                package_name="big_project", code_hash=f"{i:064x}", thread_id=f"Thread-{i % 8}",
            )
        )
    step = StepReport(index=4, name="Invoke dbt with `dbt build`", command="dbt build", status="error",
                      started_at=START, finished_at=START + timedelta(minutes=30), duration_seconds=1800.0,
                      nodes=nodes)
    return RunReport(host="cloud.getdbt.com", account_id=1, run_id=70403110009999, job_id=100,
                     job_name="Nightly build", status="error", created_at=START, started_at=START,
                     finished_at=START + timedelta(minutes=30), duration_seconds=1800.0, steps=[step])


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


def _baseline(report: RunReport, database: Path, batched: bool) -> tuple[float, float]:
    engine = sa.create_engine(f"sqlite:///{database}")
    schema.metadata.create_all(engine)

    def save() -> None:
        with engine.begin() as conn:
            run_pk = conn.execute(
                schema.runs.insert().values(
                    host=report.host, account_id=report.account_id, run_id=report.run_id, status=report.status,
                    summary=report.summary, first_tracked_at=START, updated_at=START,
                )
            ).inserted_primary_key[0]
            for step in report.steps:
                conn.execute(schema.steps.insert().values(run_pk=run_pk, step_index=step.index, name=step.name,
                                                          status=step.status, artifacts_missing=[]))
                rows = [dict(msgspec.structs.asdict(node), run_pk=run_pk, step_index=step.index) for node in step.nodes]
                if batched:
                    conn.execute(schema.node_results.insert(), rows)
                else:
                    for row in rows:
                        conn.execute(schema.node_results.insert().values(**row))

    try:
        return timed(save)
    finally:
        engine.dispose()


def executemany(report: RunReport, directory: Path, attempt: int) -> tuple[float, float]:
    return _baseline(report, directory / f"executemany-{attempt}.db", batched=True)


def per_row(report: RunReport, directory: Path, attempt: int) -> tuple[float, float]:
    return _baseline(report, directory / f"per-row-{attempt}.db", batched=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    report = make_report(args.nodes)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, contender in (("ours", ours), ("executemany", executemany), ("per-row", per_row)):
            runs = [contender(report, Path(tmp), attempt) for attempt in range(args.repeat)]
            results[name] = min(runs)
    print(f"store one run with {args.nodes:,} node results into SQLite (best of {args.repeat})")
    print(f"{'contender':<12} {'wall s':>8} {'cpu s':>8}")
    for name, (wall, cpu) in results.items():
        print(f"{name:<12} {wall:>8.3f} {cpu:>8.3f}")
    ours_wall = results["ours"][0]
    for name in ("executemany", "per-row"):
        print(f"ratio: ours is {results[name][0] / ours_wall:.1f}x faster than {name}")
    print(f"target < 2 s: {'met' if ours_wall < 2 else 'NOT met'} ({ours_wall:.2f} s)")


if __name__ == "__main__":
    main()
