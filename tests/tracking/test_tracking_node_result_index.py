"""Node results keep no (run_pk, status) index (r0013): one B-tree fewer per stored result, no query slower."""

from __future__ import annotations

import sqlalchemy as sa

from airflow_provider_databand_dbt.tracking import migrations
from airflow_provider_databand_dbt.tracking.engine import open_connection
from airflow_provider_databand_dbt.tracking.migrations_node_result_index import RUN_STATUS_INDEX
from airflow_provider_databand_dbt.tracking.read import lineage, runs
from airflow_provider_databand_dbt.tracking.read import nodes as read_nodes
from airflow_provider_databand_dbt.tracking.schema import node_results
from airflow_provider_databand_dbt.tracking.store import TrackingStore
from airflow_provider_databand_dbt.tracking.url import parse_tracking_url
from tests.tracking.report_factory import make_report


def _indexes(store: TrackingStore) -> set[str]:
    with store.engine.connect() as conn:
        return {index["name"] for index in sa.inspect(conn).get_indexes(node_results.name)}


def test_a_fresh_store_has_no_run_status_index_on_node_results(tracking_url):
    with TrackingStore(tracking_url) as store:
        assert RUN_STATUS_INDEX not in _indexes(store)
        assert "ix_dbt_tracking_node_result_history" in _indexes(store)


def test_an_r0012_store_drops_the_index_and_keeps_its_results(tracking_url):
    db = open_connection(parse_tracking_url(tracking_url))
    try:
        assert migrations.upgrade(db, target="r0012") == "r0012"
        with db.engine.connect() as conn:
            assert RUN_STATUS_INDEX in {index["name"] for index in sa.inspect(conn).get_indexes(node_results.name)}
    finally:
        db.dispose()
    report = make_report(node_count=30)
    with TrackingStore(tracking_url) as store:
        store.save_report(report)
        assert RUN_STATUS_INDEX not in _indexes(store)
        assert store.get_report(report.run_id) == report


def test_sqlite_serves_every_per_run_node_query_from_the_unique_key(sqlite_url):
    """No per-run query of the web pages scans node results: each searches them by run_pk."""
    report = make_report(node_count=60)
    with TrackingStore(sqlite_url) as store:
        store.save_report(report)
        with store.engine.connect() as conn:
            run_pk = conn.execute(sa.select(sa.func.max(node_results.c.run_pk))).scalar_one()
        statements: list[tuple[str, tuple]] = []

        def seen(conn, cursor, sql, params, *rest):
            statements.append((sql, params))

        sa.event.listen(store.engine, "before_cursor_execute", seen)
        with store.engine.connect() as conn:
            read_nodes.status_counts_by_step(conn, run_pk)
            read_nodes.nodes_page(conn, run_pk, status="error")
            read_nodes.timed_nodes(conn, run_pk)
            lineage.failure_lineage(conn, run_pk)
            runs.run_detail(conn, run_pk)
        sa.event.remove(store.engine, "before_cursor_execute", seen)
        with store.engine.connect() as conn:
            plans = [
                " | ".join(row[-1] for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", params))
                for sql, params in statements
                if node_results.name in sql
            ]
    assert plans
    assert all("SEARCH dbt_tracking_node_result USING" in plan and "(run_pk=?" in plan for plan in plans), plans
