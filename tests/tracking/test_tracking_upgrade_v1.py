"""A store written by 0.1.0 (schema v1) upgrades to the latest schema with nothing lost, on SQLite and PostgreSQL.

The fixtures in ``data/`` come from ``scripts/make_v1_store.py``, which runs the released code (git
5b34415): ``v1_store.db`` is its SQLite store, ``v1_store.json`` what it read back, and
``v1_postgresql.sql`` its DDL for PostgreSQL (the rows are copied over from the SQLite file).
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import msgspec
import pytest
import sqlalchemy as sa
from hostile_dbt_cloud import ACCOUNT_ID, TOKEN, HostileDbtCloud
from store_probe import engine_for, schema_versions

from airflow_provider_databand_dbt import collect_data_from_dbt_cloud
from airflow_provider_databand_dbt.model.report import RunReport
from airflow_provider_databand_dbt.tracking import schema
from airflow_provider_databand_dbt.tracking.migrations import MIGRATIONS
from airflow_provider_databand_dbt.tracking.migrations_v5 import node_results_v4
from airflow_provider_databand_dbt.model.source import TrackingSource
from airflow_provider_databand_dbt.tracking.store import TrackingStore

DATA = Path(__file__).parent / "data"
# Read-only, so no test can change the committed fixture.
V1_READ_ONLY = f"sqlite:///file:{DATA / 'v1_store.db'}?mode=ro&uri=true"
# The v1 tables in foreign-key order: today's tables less those added by later versions.
V1_TABLES = [
    *(table for table in schema.metadata.sorted_tables
      if table not in (schema.monitor_failed_runs, schema.nodes, schema.node_definitions, schema.node_results)),
    node_results_v4,
]


@pytest.fixture()
def v1_url(tracking_url, tmp_path):
    """``tracking_url`` holding the 0.1.0 store: the SQLite fixture copied, or rebuilt on PostgreSQL."""
    if tracking_url.startswith("sqlite"):
        shutil.copy(DATA / "v1_store.db", tmp_path / "tracking.db")
        return tracking_url
    _build_v1_postgres(tracking_url, V1_READ_ONLY)
    return tracking_url


def _build_v1_postgres(url: str, sqlite_url: str) -> None:
    source, target = sa.create_engine(sqlite_url), sa.create_engine(url)
    try:
        with target.begin() as conn:
            conn.exec_driver_sql("SET TIME ZONE 'UTC'")  # SQLite holds naive UTC timestamps
            for statement in (DATA / "v1_postgresql.sql").read_text().split(";\n"):
                if statement.strip():
                    conn.exec_driver_sql(statement)
            with source.connect() as reader:
                for table in V1_TABLES:
                    copied = sa.Table(table.name, sa.MetaData(), autoload_with=reader)
                    rows = [dict(row._mapping) for row in reader.execute(sa.select(copied))]
                    if rows:
                        conn.execute(sa.Table(table.name, sa.MetaData(), autoload_with=conn).insert(), rows)
                    if "id" in copied.c:
                        conn.exec_driver_sql(
                            f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                            f"(SELECT COALESCE(MAX(id), 0) + 1 FROM {table.name}), false)"
                        )
    finally:
        source.dispose()
        target.dispose()


def schema_shape(url: str) -> dict:
    """Every table's columns (name, type, nullability, default), indexes, unique and foreign keys, as reflected."""
    with engine_for(url) as engine:
        inspector = sa.inspect(engine)
        shape = {}
        for table in sorted(inspector.get_table_names()):
            shape[table] = {
                "columns": [
                    (c["name"], str(c["type"]), c["nullable"], str(c.get("default")))
                    for c in inspector.get_columns(table)
                ],
                "pk": inspector.get_pk_constraint(table)["constrained_columns"],
                "indexes": sorted((i["name"], tuple(i["column_names"]), bool(i["unique"]))
                                  for i in inspector.get_indexes(table)),
                "unique": sorted(
                    (u["name"], tuple(u["column_names"])) for u in inspector.get_unique_constraints(table)
                ),
                "foreign_keys": sorted(
                    (tuple(f["constrained_columns"]), f["referred_table"], tuple(f["referred_columns"]),
                     str(f.get("options", {}).get("ondelete")))
                    for f in inspector.get_foreign_keys(table)
                ),
            }
        return shape


def test_fixture_is_schema_version_1():
    assert schema_versions(V1_READ_ONLY) == [1]


def test_v1_store_upgrades_with_nothing_lost(v1_url):
    expected = json.loads((DATA / "v1_store.json").read_text())
    assert schema_versions(v1_url) == [1]

    with TrackingStore(v1_url) as store:
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
        assert {p.job_id: p.run_count for p in store.list_pipelines()} == runs_per_job  # counted by version 7
    assert schema_versions(v1_url) == [m.version for m in MIGRATIONS]
    with engine_for(v1_url) as engine, engine.connect() as conn:
        count = lambda table: conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()  # noqa: E731
        # v5 keeps each node's definition once per version, however many runs repeated it.
        assert count(schema.node_definitions) < count(schema.node_results)
        assert sa.inspect(conn).has_table("dbt_tracking_node_result_v4") is False


def test_upgraded_store_has_the_schema_of_a_fresh_one(v1_url, tmp_path):
    TrackingStore(v1_url).close()
    fresh = f"sqlite:///{tmp_path / 'fresh.db'}"
    if v1_url.startswith("sqlite"):
        TrackingStore(fresh).close()
        assert schema_shape(v1_url) == schema_shape(fresh)
        with engine_for(v1_url) as engine, engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
            assert conn.exec_driver_sql("PRAGMA foreign_key_check").all() == []
        return
    fresh_pg = sa.engine.make_url(v1_url).set(database=f"{sa.engine.make_url(v1_url).database}_fresh")
    admin = sa.create_engine(v1_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{fresh_pg.database}"')
    try:
        TrackingStore(fresh_pg.render_as_string(hide_password=False)).close()
        assert schema_shape(v1_url) == schema_shape(fresh_pg.render_as_string(hide_password=False))
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{fresh_pg.database}" WITH (FORCE)')
        admin.dispose()


def test_upgraded_store_takes_hostile_runs_and_keeps_nodes(v1_url):
    """What v1 could not hold (a 2^40 failures count, a 3000-character branch) fits after the upgrade."""
    with TrackingStore(v1_url) as store, HostileDbtCloud() as cloud:
        cloud.add_run(8001, nodes=3)
        cloud.node(8001, 0)["failures"] = 2**40
        cloud.run(8001)["git_branch"] = "b" * 3000
        collect_data_from_dbt_cloud(ACCOUNT_ID, TOKEN, 8001, cloud.url, store=store,
                                    source=TrackingSource(kind="cli"))
        report = store.get_report(8001)
    assert report.git_branch == "b" * 3000 and report.steps[1].nodes[0].failures == 2**40

