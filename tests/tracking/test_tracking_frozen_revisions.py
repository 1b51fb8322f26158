"""Revisions r0005, r0006 and r0009..r0012 do what they did when written, even after ``schema.py`` changes.

A child process plays the later code: it adds a column to today's task trigger and node tables and replaces
the bulk writer of saves, then upgrades a v4 store (the last legacy version) to r0006. The tables it gets
and the nodes it moved must be those of the revisions, on SQLite and PostgreSQL. Another adds a column and
an index to today's webhook, request budget and alert tables and upgrades an r0008 store to r0012: it must
get the tables of the frozen copies, nothing more.
"""

from __future__ import annotations

import json
import subprocess
import sys

import sqlalchemy as sa
from store_probe import DATA, engine_for, load_legacy_fixture, schema_revisions, schema_shape, twin_url

from airflow_provider_databand_dbt.model.report import RunReport
from airflow_provider_databand_dbt.tracking import migrations, schema
from airflow_provider_databand_dbt.tracking import schema_history_r0009_r0012 as history
from airflow_provider_databand_dbt.tracking.engine import open_connection
from airflow_provider_databand_dbt.tracking.store import TrackingStore
from airflow_provider_databand_dbt.tracking.url import parse_tracking_url

LATER_CODE = """
import sys

import sqlalchemy as sa

from airflow_provider_databand_dbt.tracking import bulk, migrations, schema
from airflow_provider_databand_dbt.tracking.engine import open_connection
from airflow_provider_databand_dbt.tracking.url import parse_tracking_url

for table in (schema.task_triggers, schema.nodes, schema.node_definitions, schema.node_results):
    table.append_column(sa.Column("added_later", sa.Integer))


def later_writer(*args, **kwargs):
    raise RuntimeError("a revision used the bulk writer of today's saves")


bulk.write_nodes = later_writer
db = open_connection(parse_tracking_url(sys.argv[1]))
try:
    print(migrations.upgrade(db, target="r0006"))
finally:
    db.dispose()
"""
CHANGED = (schema.task_triggers, schema.nodes, schema.node_definitions, schema.node_results)


def test_r0005_and_r0006_ignore_later_changes_of_the_schema_and_the_bulk_writer(tracking_url):
    load_legacy_fixture(tracking_url, "v4")
    done = subprocess.run(
        [sys.executable, "-c", LATER_CODE, tracking_url], capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["r0006"] and schema_revisions(tracking_url) == ["r0006"]
    with engine_for(tracking_url) as engine, engine.connect() as conn:
        inspector = sa.inspect(conn)
        columns = {table.name: [c["name"] for c in inspector.get_columns(table.name)] for table in CHANGED}
        moved = conn.execute(sa.select(sa.func.count()).select_from(schema.node_results)).scalar_one()
    assert columns == {table.name: [c.name for c in table.c] for table in CHANGED}  # as created then, and now

    expected = json.loads((DATA / "v4_store.json").read_text())
    assert moved == sum(len(step["nodes"]) for saved in expected.values() for step in saved["report"]["steps"])
    with TrackingStore(tracking_url) as store:  # on to head, with nothing lost
        for run_id, saved in expected.items():
            assert store.get_report(int(run_id)) == RunReport.from_dict(saved["report"])


LATER_QUEUE_CODE = """
import sys

import sqlalchemy as sa

from airflow_provider_databand_dbt.tracking import migrations, schema
from airflow_provider_databand_dbt.tracking.engine import open_connection
from airflow_provider_databand_dbt.tracking.url import parse_tracking_url

for table in (
    schema.webhook_events, schema.request_budgets, schema.alert_incidents, schema.alert_evaluations, schema.alert_outbox
):
    added = sa.Column("added_later", sa.Integer)
    table.append_column(added)
    sa.Index(f"ix_later_{table.name}", added)
db = open_connection(parse_tracking_url(sys.argv[1]))
try:
    print(migrations.upgrade(db, target="r0012"))
finally:
    db.dispose()
"""
QUEUE_TABLES = {
    table.name
    for table in (
        schema.webhook_events,
        schema.request_budgets,
        schema.alert_incidents,
        schema.alert_evaluations,
        schema.alert_outbox,
    )
}


def _frozen_queue_tables(metadata: sa.MetaData) -> None:
    """The tables of r0009..r0012 as their frozen copies say (beside stand-ins of the tables they refer to)."""
    history.webhook_events_r0009(metadata)
    history.request_budgets_r0010(metadata)
    history.alert_tables_r0011(metadata)
    history.alert_outbox_r0012(metadata)


def test_r0009_to_r0012_ignore_later_changes_of_the_schema(tracking_url, tmp_path):
    """Later code adds a column and an index to each of their tables: an r0008 store upgraded by it gets neither."""
    db = open_connection(parse_tracking_url(tracking_url))
    try:
        assert migrations.upgrade(db, target="r0008") == "r0008"
    finally:
        db.dispose()
    done = subprocess.run(
        [sys.executable, "-c", LATER_QUEUE_CODE, tracking_url], capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["r0012"] and schema_revisions(tracking_url) == ["r0012"]

    made = {name: shape for name, shape in schema_shape(tracking_url).items() if name in QUEUE_TABLES}
    assert sorted(made) == sorted(QUEUE_TABLES)
    assert not any("added_later" in str(shape) or "ix_later" in str(shape) for shape in made.values())
    with twin_url(tracking_url, tmp_path) as frozen:
        metadata = sa.MetaData()
        _frozen_queue_tables(metadata)
        with engine_for(frozen) as engine, engine.begin() as conn:
            metadata.create_all(conn)
        assert made == {name: shape for name, shape in schema_shape(frozen).items() if name in QUEUE_TABLES}
