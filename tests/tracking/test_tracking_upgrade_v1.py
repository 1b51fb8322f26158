"""Legacy stores upgrade to head with nothing lost, on SQLite and PostgreSQL; revisions give the fresh schema.

The fixtures in ``data/`` come from ``scripts/make_v1_store.py``, which runs older code: ``v1_*`` the released
0.1.0 (git 5b34415, legacy schema version 1), ``v4_*`` the last code of the legacy framework (git 2bb8b47,
version 4). ``<prefix>_store.db`` is its SQLite store, ``<prefix>_store.json`` what it read back, and
``<prefix>_postgresql.sql`` its DDL for PostgreSQL (the rows are copied over from the SQLite file).
"""

from __future__ import annotations

import json
import shutil

import msgspec
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from hostile_dbt_cloud import ACCOUNT_ID, TOKEN, HostileDbtCloud
from store_probe import (
    DATA,
    engine_for,
    legacy_versions,
    load_legacy_fixture,
    read_only_fixture,
    schema_revisions,
    schema_shape,
    twin_url,
)

from airflow_provider_databand_dbt import collect_data_from_dbt_cloud
from airflow_provider_databand_dbt.model.report import RunReport
from airflow_provider_databand_dbt.model.source import TrackingSource
from airflow_provider_databand_dbt.tracking import migrations, schema
from airflow_provider_databand_dbt.tracking.engine import open_connection
from airflow_provider_databand_dbt.tracking.errors import TrackingSchemaOutdated
from airflow_provider_databand_dbt.tracking.migrations import LEGACY_FENCE, VERSION_TABLE, head_revision
from airflow_provider_databand_dbt.tracking.store import TrackingStore
from airflow_provider_databand_dbt.tracking.url import parse_tracking_url

LEGACY = {"v1": [1], "v4": [1, 2, 3, 4]}  # fixture prefix: the legacy versions stamped in it


@pytest.fixture(params=sorted(LEGACY))
def legacy(request) -> str:
    return request.param


@pytest.fixture()
def legacy_url(legacy, tracking_url):
    load_legacy_fixture(tracking_url, legacy)
    return tracking_url


@pytest.fixture()
def v1_url(tracking_url):
    load_legacy_fixture(tracking_url, "v1")
    return tracking_url


def test_fixtures_are_at_their_legacy_version(legacy):
    assert legacy_versions(read_only_fixture(legacy)) == LEGACY[legacy]
    assert schema_revisions(read_only_fixture(legacy)) == []


def test_legacy_store_upgrades_with_nothing_lost(legacy, legacy_url):
    expected = json.loads((DATA / f"{legacy}_store.json").read_text())
    assert legacy_versions(legacy_url) == LEGACY[legacy]

    with TrackingStore(legacy_url) as store:
        for run_id, saved in expected.items():
            report = store.get_report(int(run_id))
            assert report == RunReport.from_dict(saved["report"])
            assert (report.notes, [step.reread_failed for step in report.steps]) == ([], [None] * len(report.steps))
            assert msgspec.to_builtins(store.list_sources(int(run_id))) == saved["sources"]
        assert store.get_cursor("v1").last_run_id == max(int(run_id) for run_id in expected)
        assert store.list_runs()[0].notes == []
        assert sum(row.node_count for row in store.list_runs()) == sum(
            len(step["nodes"]) for saved in expected.values() for step in saved["report"]["steps"]
        )
        runs_per_job: dict[int, int] = {}
        for saved in expected.values():
            runs_per_job[saved["report"]["job_id"]] = runs_per_job.get(saved["report"]["job_id"], 0) + 1
        assert {p.job_id: p.run_count for p in store.list_pipelines()} == runs_per_job  # counted by r0007
    assert schema_revisions(legacy_url) == [head_revision()]
    assert legacy_versions(legacy_url) == [LEGACY_FENCE]
    with engine_for(legacy_url) as engine, engine.connect() as conn:
        count = lambda table: conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()  # noqa: E731
        # Store v2 keeps each node's definition once per version, however many runs repeated it.
        assert count(schema.node_definitions) < count(schema.node_results)
        assert sa.inspect(conn).has_table(f"{schema.PREFIX}node_result_v4") is False


def test_reader_of_a_legacy_store_is_told_to_upgrade_it_and_writes_nothing(tmp_path):
    shutil.copy(DATA / "v4_store.db", tmp_path / "v4.db")
    (tmp_path / "v4.db").chmod(0o444)
    before = (tmp_path / "v4.db").read_bytes()
    with pytest.raises(TrackingSchemaOutdated, match="write access"):
        TrackingStore(f"sqlite:///{tmp_path / 'v4.db'}", read_only=True)
    assert schema_revisions(f"sqlite:///{tmp_path / 'v4.db'}") == []
    assert (tmp_path / "v4.db").read_bytes() == before


def test_upgraded_store_has_the_schema_of_a_fresh_one(legacy_url, tmp_path):
    TrackingStore(legacy_url).close()
    with twin_url(legacy_url, tmp_path) as fresh:
        TrackingStore(fresh).close()
        assert schema_shape(legacy_url) == schema_shape(fresh)
    if legacy_url.startswith("sqlite"):
        with engine_for(legacy_url) as engine, engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
            assert conn.exec_driver_sql("PRAGMA foreign_key_check").all() == []


def _differences(url: str) -> list:
    """What Alembic's autogenerate finds between the database and ``schema.metadata`` (defaults: schema_shape)."""
    with engine_for(url) as engine, engine.connect() as conn:
        context = MigrationContext.configure(
            conn,
            opts={
                "compare_type": True,
                "version_table": VERSION_TABLE,
            },
        )
        return compare_metadata(context, schema.metadata)


def test_every_revision_from_r0001_gives_the_schema_of_a_fresh_store(tracking_url, tmp_path):
    db = open_connection(parse_tracking_url(tracking_url))
    try:
        assert migrations.upgrade(db, target="r0001") == "r0001"
        assert _differences(tracking_url) != []  # the 0.1.0 schema really is older
        assert migrations.upgrade(db) == head_revision()
    finally:
        db.dispose()
    assert schema_revisions(tracking_url) == [head_revision()]

    with twin_url(tracking_url, tmp_path) as fresh:
        TrackingStore(fresh).close()  # created from schema.metadata, stamped head
        assert _differences(fresh) == []
        assert _differences(tracking_url) == []
        assert schema_shape(tracking_url) == schema_shape(fresh)


def test_revision_r0001_is_the_schema_of_0_1_0(tracking_url, tmp_path):
    db = open_connection(parse_tracking_url(tracking_url))
    try:
        migrations.upgrade(db, target="r0001")
    finally:
        db.dispose()
    with twin_url(tracking_url, tmp_path) as released:
        load_legacy_fixture(released, "v1")
        made, kept = schema_shape(tracking_url), schema_shape(released)
    made.pop(VERSION_TABLE)
    assert made == kept


def test_upgraded_store_takes_hostile_runs_and_keeps_nodes(v1_url):
    """What v1 could not hold (a 2^40 failures count, a 3000-character branch) fits after the upgrade."""
    with TrackingStore(v1_url) as store, HostileDbtCloud() as cloud:
        cloud.add_run(8001, nodes=3)
        cloud.node(8001, 0)["failures"] = 2**40
        cloud.run(8001)["git_branch"] = "b" * 3000
        collect_data_from_dbt_cloud(ACCOUNT_ID, TOKEN, 8001, cloud.url, store=store, source=TrackingSource(kind="cli"))
        report = store.get_report(8001)
    assert report.git_branch == "b" * 3000 and report.steps[1].nodes[0].failures == 2**40
