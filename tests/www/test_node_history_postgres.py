"""The Node history page on PostgreSQL reads about as many rows on a store 4x bigger: its newest results, not all.

Cost is the rows PostgreSQL's plan touches (``EXPLAIN ANALYZE``: rows produced and rows filtered out, over
every loop), which, unlike wall time, does not move with the load of a shared machine. The stores are built
by the web benchmark's PostgreSQL builder (4 pipelines, the node in each).
"""

from __future__ import annotations

import os
import sys
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from required_services import missing_service

from airflow_provider_databand_dbt.www.app import create_app

sys.path.insert(0, str(Path(__file__).parents[2] / "benchmarks"))
import bench_web  # noqa: E402

pytestmark = pytest.mark.postgres
POSTGRES_URL = os.environ.get("DATABAND_DBT_TEST_POSTGRES_URL")

SMALL_RUNS, BIG_RUNS = 240, 960
NODES = 600
MODEL = next(uid for uid, _, kind, _ in bench_web.node_ids(NODES) if kind == "model")


@pytest.fixture(scope="module")
def stores():
    if not POSTGRES_URL:
        missing_service("PostgreSQL", "set DATABAND_DBT_TEST_POSTGRES_URL")
    import bench_web_pg

    names = {size: f"dbt_test_history_{size}_{uuid.uuid4().hex[:8]}" for size in (SMALL_RUNS, BIG_RUNS)}
    try:
        yield {size: bench_web_pg.build_store(POSTGRES_URL, name, size, NODES) for size, name in names.items()}
    finally:
        for name in names.values():
            bench_web_pg.drop_database(POSTGRES_URL, name)


def _touched(plan: dict) -> float:
    """Rows a plan node and its children produced or filtered out, over all their loops."""
    loops = plan.get("Actual Loops", 1)
    removed = plan.get("Rows Removed by Filter", 0) + plan.get("Rows Removed by Join Filter", 0)
    own = (plan.get("Actual Rows", 0) + removed) * loops
    return own + sum(_touched(child) for child in plan.get("Plans", ()))


def history_cost(url: str) -> float:
    """Rows touched by the history queries (the node's results by run, newest first) of one Node history request."""
    app = create_app(url)
    try:
        with TestClient(app) as client:
            assert client.get(f"/api/nodes/{MODEL}").status_code == 200  # warm-up
            engine = app.state.store.store.engine
            seen: list[tuple[str, object]] = []

            def record(conn, cursor, statement, parameters, context, executemany):
                seen.append((statement, parameters))

            sa.event.listen(engine, "before_cursor_execute", record)
            try:
                body = client.get(f"/api/nodes/{MODEL}").json()
            finally:
                sa.event.remove(engine, "before_cursor_execute", record)
            assert body["total"] > 200 and len(body["chart"]) == 200
            history = [(s, p) for s, p in seen if "ORDER BY" in s and "dbt_tracking_node_result" in s]
            assert len(history) == 2, seen  # the page and the chart's newest 200
            with engine.connect() as conn:
                return sum(
                    _touched(conn.exec_driver_sql("EXPLAIN (ANALYZE, FORMAT JSON) " + s, p).scalar()[0]["Plan"])
                    for s, p in history
                )
    finally:
        app.state.store.close()


def test_node_history_reads_the_newest_results_only(stores):
    small, big = history_cost(stores[SMALL_RUNS]), history_cost(stores[BIG_RUNS])
    assert big < 1.5 * small, (small, big)
