"""The failed-runs table (schema version 3): a v1 store upgrades with nothing lost; attempts, backoff, give-up."""

from __future__ import annotations

import sqlalchemy as sa

from airflow_provider_databand_dbt.tracking import monitor_state, schema
from airflow_provider_databand_dbt.tracking.engine import open_connection
from airflow_provider_databand_dbt.tracking.migrations import head_revision, upgrade
from airflow_provider_databand_dbt.tracking.rows import MonitorCursor
from airflow_provider_databand_dbt.tracking.store import TrackingStore
from airflow_provider_databand_dbt.tracking.url import parse_tracking_url


def _make_v2_store_with_a_cursor(url: str) -> None:
    db = open_connection(parse_tracking_url(url))
    try:
        upgrade(db, target="r0002")  # fresh: revisions r0001 and r0002, as version 2 really was
        db.transact(
            lambda conn: monitor_state.save_cursor(
                conn,
                MonitorCursor(
                    syncer="main", host="h", account_id=1, last_run_id=42, active_run_ids=[7], backfill_done=True
                ),
            )
        )
    finally:
        db.dispose()


def test_a_v2_store_upgrades_to_the_failed_runs_table_with_nothing_lost(tracking_url):
    # From 0.1.0's v1 store to the latest version: tests/tracking/test_tracking_upgrade_v1.py.
    _make_v2_store_with_a_cursor(tracking_url)
    engine = sa.create_engine(tracking_url)
    try:
        with engine.connect() as conn:
            assert not sa.inspect(conn).has_table(schema.monitor_failed_runs.name)
        with TrackingStore(tracking_url) as store:
            cursor = store.get_cursor("main")
            assert (cursor.last_run_id, cursor.active_run_ids, cursor.backfill_done) == (42, [7], True)
            assert store.list_failed_runs() == []
            store.record_failed_run("main", "h", 1, 43, "internal", "boom", lambda attempts: 60.0)
        with engine.connect() as conn:
            revision = conn.exec_driver_sql("SELECT version_num FROM dbt_tracking_alembic_version").scalar_one()
        assert revision == head_revision()
    finally:
        engine.dispose()


def test_failed_run_attempts_backoff_give_up_and_clear(tracking_url):
    def delay(attempts):
        return None if attempts >= 3 else 0.0

    with TrackingStore(tracking_url) as store:
        first = store.record_failed_run("main", "h", 1, 5, "internal", "bad\udc80 value\n\x00 here", delay)
        assert (first.attempts, first.reason) == (1, "bad\\udc80 value \\x00 here")  # one storable line
        assert store.due_failed_runs("main") == [5]
        store.record_failed_run("main", "h", 1, 5, "internal", "again", delay)
        third = store.record_failed_run("main", "h", 1, 5, "invalid_response", "still", delay)
        assert (third.attempts, third.next_retry_at, third.error_kind) == (3, None, "invalid_response")
        assert store.due_failed_runs("main") == []  # given up: kept as failed to track, no more retries
        [row] = store.list_failed_runs("main")
        assert row.first_failed_at <= row.last_failed_at
        assert store.clear_failed_run("main", 5) and store.list_failed_runs() == []
