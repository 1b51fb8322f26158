"""Schema revisions: created on first open, untouched on re-open, upgraded revision by revision, unknown refused."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from migration_steps import EXTRA_TABLE, scripts_with
from report_factory import make_report
from store_probe import engine_for, legacy_versions, schema_revisions, table_names

from airflow_provider_databand_dbt.tracking import migrations, schema
from airflow_provider_databand_dbt.tracking.engine import open_connection
from airflow_provider_databand_dbt.tracking.errors import (
    TrackingSchemaError,
    TrackingSchemaOutdated,
    TrackingStoreUnavailable,
)
from airflow_provider_databand_dbt.tracking.migrations import LEGACY_FENCE, VERSION_TABLE, head_revision
from airflow_provider_databand_dbt.tracking.store import TrackingStore
from airflow_provider_databand_dbt.tracking.url import parse_tracking_url

HEAD = head_revision()


def _upgrade(url: str, script, **options) -> str:
    db = open_connection(parse_tracking_url(url))
    try:
        return migrations.upgrade(db, script, **options)
    finally:
        db.dispose()


def _execute(url: str, *statements: str) -> None:
    with engine_for(url) as engine, engine.begin() as conn:
        for statement in statements:
            conn.exec_driver_sql(statement)


def test_fresh_store_gets_every_table_head_and_the_legacy_fence(tracking_url):
    TrackingStore(tracking_url).close()

    assert set(schema.metadata.tables) | {VERSION_TABLE} == table_names(tracking_url)
    assert schema_revisions(tracking_url) == [HEAD]
    assert legacy_versions(tracking_url) == [LEGACY_FENCE]  # code before Alembic refuses this store


def test_reopening_keeps_data_and_revision(tracking_url):
    with TrackingStore(tracking_url) as store:
        store.save_report(make_report())

    with TrackingStore(tracking_url) as reopened:
        assert reopened.get_report(70001) == make_report()
    assert schema_revisions(tracking_url) == [HEAD]


def test_opening_an_up_to_date_store_only_reads_its_revision(tracking_url):
    TrackingStore(tracking_url).close()
    assert migrations.script_directory() is migrations.script_directory()  # parsed once per process
    statements: list[str] = []
    db = open_connection(parse_tracking_url(tracking_url))
    sa.event.listen(db.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    try:
        assert migrations.upgrade(db) == HEAD
    finally:
        db.dispose()

    setup = ("BEGIN", "PRAGMA", "SHOW", "SET", "SELECT PG_CATALOG.VERSION", "SELECT CURRENT_SCHEMA")
    queries = [s for s in statements if not s.upper().startswith(setup)]
    assert len(queries) <= 2, queries  # "is there a version table", then its revision
    assert not [s for s in statements if s.upper().startswith(("CREATE", "ALTER", "INSERT", "UPDATE", "DELETE"))]


def test_unknown_revision_is_refused_in_one_line(tracking_url):
    TrackingStore(tracking_url).close()
    _execute(tracking_url, f"UPDATE {VERSION_TABLE} SET version_num = 'r9999'")

    with pytest.raises(TrackingSchemaError) as caught:
        TrackingStore(tracking_url)
    with pytest.raises(TrackingSchemaError):
        TrackingStore(tracking_url, read_only=True)

    message = str(caught.value)
    assert "upgrade airflow-provider-databand-dbt" in message
    assert "revision r9999" in message and "\n" not in message


def test_unknown_legacy_version_is_refused(tracking_url):
    TrackingStore(tracking_url).close()
    _execute(tracking_url, f"DROP TABLE {VERSION_TABLE}", f"UPDATE {schema.schema_version.name} SET version = 7")

    with pytest.raises(TrackingSchemaError, match="legacy version 7, newer than"):
        TrackingStore(tracking_url)


def test_new_revisions_calling_plain_functions_and_batch_mode_upgrade_a_store(tracking_url, tmp_path):
    with TrackingStore(tracking_url) as store:
        store.save_report(make_report())
    script = scripts_with(tmp_path / "versions", "extra", "batch")

    assert _upgrade(tracking_url, script) == "t0002"
    assert _upgrade(tracking_url, script) == "t0002"  # second run is a no-op

    assert schema_revisions(tracking_url) == ["t0002"]
    with engine_for(tracking_url) as engine, engine.connect() as conn:
        assert conn.exec_driver_sql(f"SELECT id, note, added FROM {EXTRA_TABLE}").all() == [(1, "kept", 7)]
        columns = {c["name"]: c["type"] for c in sa.inspect(conn).get_columns(EXTRA_TABLE)}
        stored = conn.execute(sa.select(sa.func.count()).select_from(schema.node_results)).scalar_one()
    assert isinstance(columns["note"], sa.Text)  # the batch ALTER really changed the type, on SQLite too
    assert stored == sum(len(step.nodes) for step in make_report().steps) > 0  # the tracked rows: untouched
    with pytest.raises(TrackingSchemaError, match="revision t0002"):  # the released code meets a newer database
        TrackingStore(tracking_url)


def test_batch_mode_re_creating_a_parent_table_keeps_the_rows_that_refer_to_it(tracking_url, tmp_path):
    with TrackingStore(tracking_url) as store:
        store.save_report(make_report())
    script = scripts_with(tmp_path / "versions", "recreate_run")

    db = open_connection(parse_tracking_url(tracking_url))
    try:
        assert migrations.upgrade(db, script) == "t0001"
        if db.dialect == "sqlite":
            with db.engine.connect() as conn:  # the same pooled connection: foreign keys are on again
                assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    finally:
        db.dispose()

    with engine_for(tracking_url) as engine, engine.connect() as conn:
        counts = [
            conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
            for table in (schema.runs, schema.steps, schema.node_results, schema.sources)
        ]
        flags = conn.exec_driver_sql("SELECT test_flag FROM dbt_tracking_run").scalars().all()
    report = make_report()
    # SQLite's DROP TABLE of the old run table would cascade-delete every step, node and source with foreign keys on.
    assert counts == [1, len(report.steps), sum(len(step.nodes) for step in report.steps), 1]
    assert flags == [False]


def test_failed_revision_changes_nothing(tracking_url, tmp_path):
    TrackingStore(tracking_url).close()
    script = scripts_with(tmp_path / "versions", "extra", "fail")

    with pytest.raises(TrackingSchemaError, match="to revision t0002 failed") as caught:
        _upgrade(tracking_url, script)

    assert "\n" not in str(caught.value)
    # One transaction for all pending revisions: the good one before the failure is rolled back too.
    assert EXTRA_TABLE not in table_names(tracking_url)
    assert schema_revisions(tracking_url) == [HEAD]


def test_read_only_store_that_needs_an_upgrade_is_refused(sqlite_url, tmp_path):
    TrackingStore(sqlite_url).close()
    read_only = f"sqlite:///file:{tmp_path / 'tracking.db'}?mode=ro&uri=true"
    script = scripts_with(tmp_path / "versions", "extra")

    with pytest.raises(TrackingStoreUnavailable, match="read-only and needs schema revision t0001"):
        _upgrade(read_only, script)
    assert _upgrade(read_only, None) == HEAD  # already current: reading is enough


def test_reader_of_an_older_revision_is_told_to_upgrade(sqlite_url):
    _upgrade(sqlite_url, None, target="r0003")

    with pytest.raises(TrackingSchemaOutdated, match="revision r0003 and this package reads"):
        TrackingStore(sqlite_url, read_only=True)
    TrackingStore(sqlite_url).close()
    assert schema_revisions(sqlite_url) == [HEAD]
