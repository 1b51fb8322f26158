"""The web benchmark's PostgreSQL builder makes the same store as its SQLite builder, schema intact.

The builder drops node_result's keys and indexes for ``COPY`` and puts them back: a store whose
constraints differ from a fresh TrackingStore's, or whose rows differ from the SQLite build, would
make the PostgreSQL timings meaningless.
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

from airflow_provider_databand_dbt.tracking.store import TrackingStore
from airflow_provider_databand_dbt.www.app import create_app

sys.path.insert(0, str(Path(__file__).parents[2] / "benchmarks"))
import bench_web  # noqa: E402

pytestmark = pytest.mark.postgres
POSTGRES_URL = os.environ.get("DATABAND_DBT_TEST_POSTGRES_URL")

RUNS, NODES = 12, bench_web.SOURCES_PER_RUN + 20
CATALOG = [
    "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
    "WHERE conrelid = 'dbt_tracking_node_result'::regclass",
    "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'dbt_tracking_node_result'",
]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """``(postgres url, sqlite url)`` of the same bench store."""
    if not POSTGRES_URL:
        missing_service("PostgreSQL", "set DATABAND_DBT_TEST_POSTGRES_URL")
    import bench_web_pg

    name = f"dbt_test_bench_{uuid.uuid4().hex[:12]}"
    path = tmp_path_factory.mktemp("bench") / "web.db"
    bench_web.build_store(path, RUNS, NODES)
    try:
        yield bench_web_pg.build_store(POSTGRES_URL, name, RUNS, NODES), f"sqlite:///{path}"
    finally:
        bench_web_pg.drop_database(POSTGRES_URL, name)


def catalog(url: str) -> list[set]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return [set(conn.execute(sa.text(query)).all()) for query in CATALOG]
    finally:
        engine.dispose()


def test_node_result_keys_and_indexes_are_the_schemas(built):
    import bench_web_pg

    name = f"dbt_test_fresh_{uuid.uuid4().hex[:12]}"
    try:
        fresh = bench_web_pg.create_database(POSTGRES_URL, name)
        TrackingStore(fresh).close()
        expected = catalog(fresh)
    finally:
        bench_web_pg.drop_database(POSTGRES_URL, name)
    assert catalog(built[0]) == expected
    assert len(expected[0]) == 5 and len(expected[1]) == 3  # pkey, unique, 3 FKs; 2 of theirs + history


def test_same_rows_and_counts_as_the_sqlite_build(built):
    def read(url: str):
        with TrackingStore(url) as store, store.engine.connect() as conn:
            return (
                conn.execute(sa.text("SELECT id, run_count FROM dbt_tracking_pipeline ORDER BY id")).all(),
                conn.execute(
                    sa.text(
                        "SELECT status, count(*), round(sum(execution_time)) "
                        "FROM dbt_tracking_node_result GROUP BY status ORDER BY status"
                    )
                ).all(),
                [
                    conn.execute(sa.text(f"SELECT count(*) FROM dbt_tracking_{table}")).scalar()
                    for table in ("run", "step", "source")
                ],
            )

    postgres, sqlite = read(built[0]), read(built[1])
    assert postgres == sqlite
    assert [count for _, count in postgres[0]] == [RUNS // bench_web.PIPELINES] * bench_web.PIPELINES


def test_pages_and_api_answer_the_same_on_both(built):
    run = 7_000_000 + RUNS - 1
    answers = []
    for url in built:
        app = create_app(url)
        try:
            client = TestClient(app)
            for _, path in bench_web.pages(RUNS):
                assert client.get(path).status_code == 200, (url.split(":")[0], path)
            answers.append(client.get(f"/api/runs/{run}/nodes").json())
        finally:
            app.state.store.close()
    assert answers[0] == answers[1] and answers[0]


def test_ids_continue_after_the_copied_rows(built):
    engine = sa.create_engine(built[0])
    try:
        with engine.begin() as conn:
            for table in ("run", "node", "node_definition", "pipeline"):
                top = conn.execute(sa.text(f"SELECT max(id) FROM dbt_tracking_{table}")).scalar()
                sequence = f"pg_get_serial_sequence('dbt_tracking_{table}', 'id')"
                following = conn.execute(sa.text(f"SELECT nextval({sequence})")).scalar()
                assert following == top + 1, table
    finally:
        engine.dispose()
