"""Revision r0008 (the run a retry retries) on SQLite and PostgreSQL: upgrade keeps rows, links survive re-tracking."""

from __future__ import annotations

import msgspec
import sqlalchemy as sa
from report_factory import make_report
from store_probe import schema_revisions

from airflow_provider_databand_dbt.tracking import migrations, schema
from airflow_provider_databand_dbt.tracking.engine import open_connection
from airflow_provider_databand_dbt.tracking.migrations import head_revision
from airflow_provider_databand_dbt.tracking.read.runs import find_run_pk, run_detail
from airflow_provider_databand_dbt.tracking.store import TrackingStore
from airflow_provider_databand_dbt.tracking.url import parse_tracking_url


def _columns(url: str) -> set[str]:
    engine = sa.create_engine(url)
    try:
        return {c["name"] for c in sa.inspect(engine).get_columns(schema.runs.name)}
    finally:
        engine.dispose()


def _detail(url: str, run_id: int, **key):
    db = open_connection(parse_tracking_url(url))
    try:
        with db.read() as conn:
            return run_detail(conn, find_run_pk(conn, run_id, **key))
    finally:
        db.dispose()


def test_a_store_at_r0007_upgrades_with_its_runs_kept(tracking_url):
    db = open_connection(parse_tracking_url(tracking_url))
    try:
        migrations.upgrade(db, target="r0007")
    finally:
        db.dispose()
    assert "retry_of_run_id" not in _columns(tracking_url)
    engine = sa.create_engine(tracking_url)
    try:
        with engine.begin() as conn:  # a run written by the previous version, without the column
            conn.execute(
                sa.text(
                    f"INSERT INTO {schema.runs.name} (host, account_id, run_id, status, node_count, summary,"
                    " first_tracked_at, updated_at, notes) VALUES ('h', 1, 5, 'error', 0, '{}',"
                    " CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, '[]')"
                )
            )
    finally:
        engine.dispose()
    with TrackingStore(tracking_url) as store:
        store.save_report(make_report(run_id=7, status="success", host="h", account_id=1))
    assert "retry_of_run_id" in _columns(tracking_url)
    assert schema_revisions(tracking_url) == [head_revision()]
    detail = _detail(tracking_url, 5, account_id=1, host="h")
    assert detail.status == "error" and detail.retry_of_run_id is None and detail.retry_chain is None


def test_a_later_snapshot_without_the_link_keeps_it(tracking_url):
    with TrackingStore(tracking_url) as store:
        store.save_report(make_report(run_id=10, status="error"))
        retry = make_report(run_id=11, status="running")
        store.save_report(msgspec.structs.replace(retry, retry_of_run_id=10))
        store.save_report(make_report(run_id=11, status="success"))  # e.g. a webhook: no trigger, no link
    detail = _detail(tracking_url, 11)
    assert detail.retry_of_run_id == 10 and detail.status == "success"
    assert [(r.run_id, r.status) for r in detail.retry_chain.runs] == [(10, "error"), (11, "success")]
