"""How fast the web view's pages render over a big tracking store, against a small one in the same run.

Builds (once, cached under benchmarks/.data/) a SQLite store of 1,000 runs x 2,000 nodes — four
pipelines of one dbt project, 250 runs each, every run a source-freshness step and a build step with
failures, warnings, skips, threads and timings — by bulk-inserting rows straight into the schema's
tables. A baseline store of 200 runs with the same nodes is built the same way: enough runs that
every list page and the 30-run health window are full, so both stores render the same amount of
HTML and the ratio big/baseline isolates the cost of a 5x bigger store (near 1: the page does not
slow down as the store grows). Each page is requested N times through FastAPI's test client (app +
queries + rendering, no network) and p50/p95 latencies are printed.

    python benchmarks/bench_web.py                 # 1,000 runs x 2,000 nodes, 30 requests per page
    python benchmarks/bench_web.py --runs 200 --nodes 500 --requests 10 --rebuild
    python benchmarks/bench_web.py --runs 10000 --requests 15 \
        --postgres postgresql+psycopg://postgres@127.0.0.1:55432/postgres   # databases bench_web_*, dropped after

With ``--postgres`` the same rows go into databases ``bench_web_<runs>x<nodes>`` on that server,
loaded with ``COPY`` (bench_web_pg.py); they are dropped at the end unless ``--keep`` (then reused).
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import statistics
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

DATA_DIR = Path(__file__).parent / ".data"
BUDGET_MS = 300.0
PIPELINES = 4
THREADS = 8
SOURCES_PER_RUN = 100
TS_FORMAT = "%Y-%m-%d %H:%M:%S.%f"  # how SQLAlchemy stores datetimes in SQLite
T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def ts(value: datetime) -> str:
    return value.astimezone(timezone.utc).strftime(TS_FORMAT)


def node_ids(count: int) -> list[tuple[str, str, str, list[str]]]:
    """``(unique_id, name, resource_type, depends_on)`` of one dbt project: sources, models, then tests."""
    sources = [f"source.shop.raw.table_{i}" for i in range(min(SOURCES_PER_RUN, count // 4))]
    nodes = [(uid, uid.rsplit(".", 1)[1], "source", []) for uid in sources]
    models: list[str] = []
    rng = random.Random(7)
    while len(nodes) < count:
        i = len(nodes)
        if i % 3 == 2 and models:  # a test on an earlier model
            target = rng.choice(models)
            uid = f"test.shop.not_null_{target.rsplit('.', 1)[1]}_{i}"
            nodes.append((uid, uid.split(".")[2], "test", [target]))
        else:
            uid = f"model.shop.model_{i}"
            parents = rng.sample(models, min(len(models), rng.randint(1, 3))) if models else [rng.choice(sources)]
            nodes.append((uid, f"model_{i}", "model", parents))
            models.append(uid)
    return nodes


def build_store(path: Path, runs_total: int, nodes_per_run: int) -> None:
    """Create the schema with TrackingStore, then bulk-insert the rows with sqlite3 (fast)."""
    from airflow_provider_databand_dbt.tracking.store import TrackingStore

    if path.exists():
        path.unlink()
    TrackingStore(f"sqlite:///{path}").close()
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=OFF")
    pipelines, nodes, definitions = static_rows(nodes_per_run)
    _insert(db, "dbt_tracking_pipeline", PIPELINE_COLUMNS, pipelines)
    _insert(db, "dbt_tracking_node", NODE_COLUMNS, nodes)
    _insert(db, "dbt_tracking_node_definition", DEFINITION_COLUMNS, definitions)
    for r, (run, steps, results, source) in enumerate(run_rows(runs_total, nodes_per_run)):
        _insert(db, "dbt_tracking_run", RUN_COLUMNS, [run])
        _insert(db, "dbt_tracking_step", STEP_COLUMNS, steps)
        _insert(db, "dbt_tracking_node_result", RESULT_COLUMNS, results)
        _insert(db, "dbt_tracking_source", SOURCE_COLUMNS, [source])
        if r % 100 == 99:
            db.commit()
            print(f"  {path.name}: {r + 1}/{runs_total} runs", file=sys.stderr)
    db.commit()
    db.execute("ANALYZE")
    db.close()
    recount_store(f"sqlite:///{path}")


def _insert(db: sqlite3.Connection, table: str, columns: tuple[str, ...], rows: list[tuple]) -> None:
    db.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({','.join('?' * len(columns))})", rows)


PIPELINE_COLUMNS = (
    "id",
    "host",
    "account_id",
    "job_id",
    "name",
    "project_id",
    "project_name",
    "environment_id",
    "environment_name",
    "first_seen_at",
    "updated_at",
)
NODE_COLUMNS = ("id", "scope", "unique_id")
DEFINITION_COLUMNS = (
    "id",
    "node_id",
    "definition_hash",
    "name",
    "resource_type",
    "package_name",
    "materialization",
    "tags",
    "depends_on",
    "first_seen_at",
)
RUN_COLUMNS = (
    "id",
    "host",
    "account_id",
    "run_id",
    "pipeline_id",
    "job_id",
    "job_name",
    "project_id",
    "project_name",
    "environment_id",
    "environment_name",
    "status",
    "status_message",
    "trigger_cause",
    "git_branch",
    "git_sha",
    "dbt_version",
    "created_at",
    "started_at",
    "finished_at",
    "duration_seconds",
    "url",
    "node_count",
    "summary",
    "collected_at",
    "first_tracked_at",
    "updated_at",
)
STEP_COLUMNS = (
    "run_pk",
    "step_index",
    "name",
    "command",
    "status",
    "started_at",
    "finished_at",
    "duration_seconds",
    "artifacts_missing",
)
RESULT_COLUMNS = (
    "run_pk",
    "step_index",
    "node_id",
    "definition_id",
    "status",
    "execution_time",
    "rows_affected",
    "message",
    "failures",
    "started_at",
    "finished_at",
    "thread_id",
)
SOURCE_COLUMNS = (
    "run_pk",
    "kind",
    "name",
    "dag_id",
    "task_id",
    "airflow_run_id",
    "try_number",
    "map_index",
    "hostname",
    "tracked_at",
)


def static_rows(nodes_per_run: int) -> tuple[list[tuple], list[tuple], list[tuple]]:
    """Rows of the pipeline, node and node_definition tables (ids given: runs and results refer to them)."""
    now = ts(datetime.now(timezone.utc))
    project = node_ids(nodes_per_run)
    pipelines, nodes, definitions = [], [], []
    for p in range(PIPELINES):
        pipelines.append((p + 1, "cloud.getdbt.com", 1, 1000 + p, f"Job {p}", 10, "Shop", 20, "Production", now, now))
        _definitions(p, project, now, nodes, definitions)
    return pipelines, nodes, definitions


def run_rows(runs_total: int, nodes_per_run: int):
    """Per run ``(run row, step rows, node_result rows, source row)``, the same for every store kind."""
    project = node_ids(nodes_per_run)
    children: dict[str, list[str]] = {}
    for uid, _, _, parents in project:
        for parent in parents:
            children.setdefault(parent, []).append(uid)
    rng = random.Random(42)
    now = ts(datetime.now(timezone.utc))
    for r in range(runs_total):
        pipeline = r % PIPELINES + 1
        created = T0 + timedelta(hours=r)
        failed = set(rng.sample(range(SOURCES_PER_RUN, nodes_per_run), rng.choice((0, 0, 1, 3))))
        failed_ids = {project[i][0] for i in failed}
        skipped = {c for f in failed_ids for c in children.get(f, ())}
        status = "error" if failed else "success"
        duration = 600 + rng.random() * 120
        rows, summary = [], {}
        lanes = [0.0] * THREADS
        for i, (uid, name, rtype, _parents) in enumerate(project):
            step = 1 if rtype == "source" else 2
            if uid in failed_ids:
                st = "error" if rtype == "model" else "fail"
            elif uid in skipped:
                st = "skipped"
            elif rtype in ("test", "source"):
                st = "warn" if rng.random() < 0.01 else "pass"
            else:
                st = "success"
            secs = 0.0 if st == "skipped" else rng.random() * 2
            lane = min(range(THREADS), key=lanes.__getitem__)
            start = created + timedelta(seconds=lanes[lane])
            lanes[lane] += secs
            summary[st] = summary.get(st, 0) + 1
            message = f"Database Error in {rtype} {name}: relation does not exist" if st in ("error", "fail") else None
            node_id = (pipeline - 1) * len(project) + i + 1  # as _definitions numbers them
            rows.append(
                (
                    r + 1,
                    step,
                    node_id,
                    node_id,
                    st,
                    secs,
                    None if rtype != "model" else rng.randint(0, 10**6),
                    message,
                    1 if st == "fail" else None,
                    ts(start),
                    ts(start + timedelta(seconds=secs)),
                    f"Thread-{lane + 1}",
                )
            )
        run = (
            r + 1,
            "cloud.getdbt.com",
            1,
            7_000_000 + r,
            pipeline,
            1000 + pipeline - 1,
            f"Job {pipeline - 1}",
            10,
            "Shop",
            20,
            "Production",
            status,
            "Step 2 failed" if failed else None,
            "Triggered by schedule",
            "main",
            f"{r:040x}",
            "1.10.0",
            ts(created),
            ts(created),
            ts(created + timedelta(seconds=duration)),
            duration,
            f"https://cloud.getdbt.com/deploy/1/projects/10/runs/{7_000_000 + r}/",
            len(rows),
            json.dumps(summary),
            now,
            now,
            now,
        )
        steps = [
            (
                r + 1,
                index,
                name,
                name.split("`")[1],
                "error" if failed and index == 2 else "success",
                ts(created),
                ts(created + timedelta(seconds=duration)),
                duration,
                "[]",
            )
            for index, name in ((1, "Invoke dbt with `dbt source freshness`"), (2, "Invoke dbt with `dbt build`"))
        ]
        source = (
            r + 1,
            "airflow" if r % 2 else "monitor",
            "bench",
            "dbt_dag" if r % 2 else None,
            "run_job" if r % 2 else None,
            f"scheduled__{r}" if r % 2 else None,
            1 if r % 2 else None,
            -1,
            "bench",
            now,
        )
        yield run, steps, rows, source


def recount_store(url: str) -> None:
    """The run counts the store's writes keep, set once for the rows inserted around them."""
    from airflow_provider_databand_dbt.tracking.run_counts import recount
    from airflow_provider_databand_dbt.tracking.store import TrackingStore

    with TrackingStore(url) as store, store.engine.begin() as conn:
        recount(conn)


def _definitions(pipeline: int, project: list, now: str, nodes: list, definitions: list) -> None:
    """Pipeline ``pipeline``'s nodes and their one definition each, numbered pipeline * len(project) + i + 1."""
    from airflow_provider_databand_dbt.model.report import NodeResult
    from airflow_provider_databand_dbt.tracking.definitions import definition_hash

    for i, (uid, name, rtype, parents) in enumerate(project):
        node_id = pipeline * len(project) + i + 1
        node = NodeResult(
            unique_id=uid,
            name=name,
            resource_type=rtype,
            status="",
            depends_on=list(parents),
            materialization="table" if rtype == "model" else None,
            package_name="shop",
        )
        nodes.append((node_id, f"pipeline:{pipeline + 1}", uid))
        definitions.append(
            (
                node_id,
                node_id,
                definition_hash(node),
                name,
                rtype,
                "shop",
                node.materialization,
                "[]",
                json.dumps(parents),
                now,
            )
        )


def store_url(runs_total: int, nodes_per_run: int, rebuild: bool, postgres: str | None) -> str:
    """The URL of the bench store of this size, built first if missing (or ``rebuild``)."""
    name = f"web_{runs_total}x{nodes_per_run}"
    started = time.perf_counter()
    if postgres:
        import bench_web_pg

        name = f"bench_{name}"
        if not rebuild and bench_web_pg.database_exists(postgres, name):
            return bench_web_pg.database_url(postgres, name)
        url = bench_web_pg.build_store(postgres, name, runs_total, nodes_per_run)
    else:
        DATA_DIR.mkdir(exist_ok=True)
        path = DATA_DIR / f"{name}.db"
        url = f"sqlite:///{path}"
        if not rebuild and path.exists():
            return url
        build_store(path, runs_total, nodes_per_run)
    print(f"built {name} in {time.perf_counter() - started:.1f}s", file=sys.stderr)
    return url


def pages(runs_total: int) -> list[tuple[str, str]]:
    """``(label, path)`` of what to time; ids are valid in both stores."""
    run = 7_000_000 + min(runs_total, 10) - 1
    node = "model.shop.model_100"
    return [
        ("pipelines", "/"),
        ("pipeline", "/pipelines/1000"),
        ("pipeline, status+date filter", "/pipelines/1000?status=success&since=2026-01-01"),
        ("runs, page 2", "/runs?page=2"),
        ("run", f"/runs/{run}"),
        ("run, search + filter", f"/runs/{run}?q=model_1&type=model"),
        ("node history", f"/nodes/{node}"),
        ("nodes search", "/nodes?q=model_19"),
        ("api pipelines", "/api/pipelines"),
        ("api run nodes", f"/api/runs/{run}/nodes"),
        ("api run (full report)", f"/api/runs/{run}"),
    ]


Timings = dict[str, tuple[tuple[float, float], tuple[float, float]]]


def time_pages(big: str, small: str, runs_total: int, requests: int) -> Timings:
    """``{label: ((p50, p95) big, (p50, p95) baseline)}``; requests alternate between the two stores so
    that both see the same machine load."""
    from fastapi.testclient import TestClient

    from airflow_provider_databand_dbt.www.app import create_app

    apps = [create_app(big), create_app(small)]
    clients = [TestClient(app) for app in apps]
    results = {}
    for label, url in pages(runs_total):
        samples: list[list[float]] = [[], []]
        for client in clients:
            response = client.get(url)  # warm-up: first query plans, template compilation
            assert response.status_code == 200, (url, response.status_code, response.text[:300])
        for _ in range(requests):
            for client, bucket in zip(clients, samples):
                started = time.perf_counter()
                client.get(url)
                bucket.append((time.perf_counter() - started) * 1000)
        results[label] = tuple(_p50_p95(bucket) for bucket in samples)
    for app in apps:
        app.state.store.close()
    return results


def sa_database(url: str) -> str:
    import sqlalchemy as sa

    return sa.engine.make_url(url).database


def _p50_p95(samples: list[float]) -> tuple[float, float]:
    samples = sorted(samples)
    return statistics.median(samples), samples[min(len(samples) - 1, int(len(samples) * 0.95))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--nodes", type=int, default=2000)
    parser.add_argument("--baseline-runs", type=int, default=200)
    parser.add_argument("--requests", type=int, default=30, help="requests per page (default: %(default)s)")
    parser.add_argument("--rebuild", action="store_true", help="rebuild the cached stores")
    parser.add_argument(
        "--postgres",
        metavar="URL",
        help="build the stores as databases bench_web_* on this "
        "PostgreSQL server (postgresql+psycopg://...) instead of SQLite files",
    )
    parser.add_argument("--keep", action="store_true", help="keep the PostgreSQL databases (reused next time)")
    args = parser.parse_args(argv)

    big = store_url(args.runs, args.nodes, args.rebuild, args.postgres)
    small = store_url(args.baseline_runs, args.nodes, args.rebuild, args.postgres)
    try:
        times = time_pages(big, small, min(args.runs, args.baseline_runs), args.requests)
    finally:
        if args.postgres and not args.keep:
            import bench_web_pg

            for url in (big, small):
                bench_web_pg.drop_database(args.postgres, sa_database(url))

    title = f"{args.runs} runs x {args.nodes} nodes {'PostgreSQL' if args.postgres else 'SQLite'}"
    print(f"\nweb view latency, {args.requests} requests per page and store, interleaved (test client, in-process)\n")
    budget = f"< {BUDGET_MS:.0f} ms"
    header = f"{'page':<30} {'p50 ms':>8} {'p95 ms':>8}   {'baseline p50':>12}   {'ratio':>6}   {budget:>8}"
    print(f"{'':<30} {title:^17}   {str(args.baseline_runs) + ' runs':>12}")
    print(header)
    print("-" * len(header))
    worst = 0.0
    for label, ((p50, p95), (base50, _)) in times.items():
        if not label.startswith("api"):  # the budget is for pages; API rows are shown for reference
            worst = max(worst, p95)
        print(
            f"{label:<30} {p50:>8.1f} {p95:>8.1f}   {base50:>12.1f}   {p50 / base50:>5.2f}x   "
            f"{'yes' if p95 < BUDGET_MS else 'NO':>8}"
        )
    print(f"\nworst page p95: {worst:.1f} ms (budget {BUDGET_MS:.0f} ms)")
    return 0 if worst < BUDGET_MS else 1


if __name__ == "__main__":
    sys.exit(main())
