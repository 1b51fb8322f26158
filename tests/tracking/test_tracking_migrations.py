"""Schema versions: created on first open, untouched on re-open, upgraded step by step, newer refused."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
import sqlalchemy as sa
from report_factory import make_report
from store_probe import schema_versions, table_names

from airflow_provider_databand_dbt.tracking import migrations, schema
from airflow_provider_databand_dbt.tracking.engine import open_connection
from airflow_provider_databand_dbt.tracking.errors import TrackingSchemaError, TrackingStoreUnavailable
from airflow_provider_databand_dbt.tracking.migrations import LATEST_VERSION, MIGRATIONS, Migration
from airflow_provider_databand_dbt.tracking.store import TrackingStore
from airflow_provider_databand_dbt.tracking.url import parse_tracking_url

EXTRA_TABLE = "dbt_tracking_test_extra"
ALL_VERSIONS = [m.version for m in MIGRATIONS]  # a fresh store is stamped with every version


def _add_extra_table(conn) -> None:
    conn.execute(sa.text(f"CREATE TABLE {EXTRA_TABLE} (id INTEGER PRIMARY KEY, note VARCHAR(20))"))


def _add_column_then_fail(conn) -> None:
    conn.execute(sa.text(f"ALTER TABLE {EXTRA_TABLE} ADD COLUMN half_done INTEGER"))
    conn.execute(sa.text("SELECT * FROM dbt_tracking_no_such_table"))


def test_fresh_store_gets_every_table_and_the_latest_version(tracking_url):
    TrackingStore(tracking_url).close()

    assert set(schema.metadata.tables) <= table_names(tracking_url)
    assert schema_versions(tracking_url) == [m.version for m in MIGRATIONS]
    assert schema_versions(tracking_url)[-1] == LATEST_VERSION


def test_reopening_keeps_data_and_version(tracking_url):
    with TrackingStore(tracking_url) as store:
        store.save_report(make_report())

    with TrackingStore(tracking_url) as reopened:
        assert reopened.get_report(70001) == make_report()
    assert schema_versions(tracking_url) == ALL_VERSIONS


def test_newer_database_is_refused(tracking_url):
    TrackingStore(tracking_url).close()
    engine = sa.create_engine(tracking_url)
    with engine.begin() as conn:
        conn.execute(schema.schema_version.insert().values(version=LATEST_VERSION + 7, applied_at=datetime.now(timezone.utc)))
    engine.dispose()

    with pytest.raises(TrackingSchemaError) as caught:
        TrackingStore(tracking_url)

    message = str(caught.value)
    assert "upgrade airflow-provider-databand-dbt" in message
    assert f"version {LATEST_VERSION + 7}" in message and "\n" not in message


def test_later_steps_upgrade_an_existing_store_in_order(tracking_url):
    with TrackingStore(tracking_url) as store:
        store.save_report(make_report())
    db = open_connection(parse_tracking_url(tracking_url))
    steps = (*MIGRATIONS, Migration(LATEST_VERSION + 1, "extra table for the test", _add_extra_table))

    try:
        assert migrations.upgrade(db, steps) == LATEST_VERSION + 1
        assert migrations.upgrade(db, steps) == LATEST_VERSION + 1  # second run is a no-op
    finally:
        db.dispose()

    assert EXTRA_TABLE in table_names(tracking_url)
    assert schema_versions(tracking_url) == [*ALL_VERSIONS, LATEST_VERSION + 1]
    with pytest.raises(TrackingSchemaError):  # the released code now meets a newer database
        TrackingStore(tracking_url)


def test_failed_step_changes_nothing(tracking_url):
    TrackingStore(tracking_url).close()
    db = open_connection(parse_tracking_url(tracking_url))
    steps = (
        *MIGRATIONS,
        Migration(LATEST_VERSION + 1, "extra table", _add_extra_table),
        Migration(LATEST_VERSION + 2, "breaks half-way", _add_column_then_fail),
    )

    try:
        with pytest.raises(TrackingSchemaError, match=f"to version {LATEST_VERSION + 2} failed"):
            migrations.upgrade(db, steps)
    finally:
        db.dispose()

    # One transaction for all pending steps: the good step before the failure is rolled back too.
    assert EXTRA_TABLE not in table_names(tracking_url)
    assert schema_versions(tracking_url) == ALL_VERSIONS


def test_read_only_store_that_needs_an_upgrade_is_refused(sqlite_url, tmp_path):
    TrackingStore(sqlite_url).close()
    db = open_connection(parse_tracking_url(f"sqlite:///file:{tmp_path / 'tracking.db'}?mode=ro&uri=true"))
    steps = (*MIGRATIONS, Migration(LATEST_VERSION + 1, "extra table", _add_extra_table))

    try:
        with pytest.raises(TrackingStoreUnavailable, match="read-only and needs schema version"):
            migrations.upgrade(db, steps)
        assert migrations.upgrade(db) == LATEST_VERSION  # already current: reading is enough
    finally:
        db.dispose()
