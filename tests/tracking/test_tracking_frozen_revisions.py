"""Revisions r0005 and r0006 do what they did when written, even after ``schema.py`` and the bulk writer change.

A child process plays the later code: it adds a column to today's task trigger and node tables and replaces
the bulk writer of saves, then upgrades a v4 store (the last legacy version) to r0006. The tables it gets
and the nodes it moved must be those of the revisions, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import subprocess
import sys

import sqlalchemy as sa
from store_probe import DATA, engine_for, load_legacy_fixture, schema_revisions

from airflow_provider_databand_dbt.model.report import RunReport
from airflow_provider_databand_dbt.tracking import schema
from airflow_provider_databand_dbt.tracking.store import TrackingStore

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
