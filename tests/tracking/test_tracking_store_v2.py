"""Store v2: a node's definition is stored once per pipeline and version; each result row holds only its outcome."""

from __future__ import annotations

import msgspec
import sqlalchemy as sa
from report_factory import make_report

from airflow_provider_databand_dbt.tracking import schema
from airflow_provider_databand_dbt.tracking.migrations_node_definitions import node_results_v4


def _count(store, table) -> int:
    with store.engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()


def _with_nodes(report, change):
    steps = [msgspec.structs.replace(step, nodes=[change(node) for node in step.nodes]) for step in report.steps]
    return msgspec.structs.replace(report, steps=steps)


def test_unchanged_nodes_of_later_runs_reuse_their_definitions(store):
    for run_id in (70001, 70002, 70003):
        store.save_report(make_report(run_id, node_count=50))

    assert _count(store, schema.node_results) == 150
    assert (_count(store, schema.nodes), _count(store, schema.node_definitions)) == (50, 50)
    assert store.get_report(70002) == make_report(70002, node_count=50)


def test_a_definition_change_without_a_code_change_is_a_new_version(store):
    store.save_report(make_report(70001, node_count=4))
    retagged = _with_nodes(
        make_report(70002, node_count=4),
        lambda node: msgspec.structs.replace(node, tags=["hourly"]) if node.name == "node_1" else node,
    )
    store.save_report(retagged)

    assert (_count(store, schema.nodes), _count(store, schema.node_definitions)) == (4, 5)
    assert store.get_report(70001) == make_report(70001, node_count=4)  # the old run keeps its version
    assert store.get_report(70002) == retagged


def test_relation_fields_round_trip(store):
    report = _with_nodes(
        make_report(node_count=3),
        lambda node: msgspec.structs.replace(node, database="analytics", schema="dbt_prod", alias=f"{node.name}_v2"),
    )
    store.save_report(report)
    assert store.get_report(report.run_id) == report


def test_runs_without_a_job_keep_their_own_nodes(store):
    store.save_report(make_report(70001, job_id=None, node_count=3))
    store.save_report(make_report(70002, job_id=None, node_count=3))
    store.save_report(make_report(70003, node_count=3))

    with store.engine.connect() as conn:
        scopes = sorted(set(conn.execute(sa.select(schema.nodes.c.scope)).scalars()))
    assert len(scopes) == 3 and sum(scope.startswith("run:") for scope in scopes) == 2
    assert store.get_report(70002) == make_report(70002, job_id=None, node_count=3)


def test_result_rows_are_slimmer_than_v4_rows():
    slim = {column.name for column in schema.node_results.c}
    fat = {column.name for column in node_results_v4.c}
    assert not slim & {"name", "resource_type", "depends_on", "tags", "package_name", "code_hash", "materialization"}
    assert len(slim) < len(fat)


def test_timestamps_encoded_in_bulk_match_one_by_one():
    """The SQLite column encoder gives exactly the text of the per-value one (what SQLAlchemy reads back)."""
    from datetime import datetime, timedelta, timezone

    from airflow_provider_databand_dbt.tracking.bulk import _encoders, _times_encoder

    encode_time, _ = _encoders("sqlite")
    encode_times = _times_encoder("sqlite", encode_time)
    utc = [
        datetime(2026, 11, 20, 8, 0, 1, 123456, tzinfo=timezone.utc),
        datetime(2026, 11, 20, 8, 0, 1),
        datetime(2, 1, 1, 0, 0, 0, 1, tzinfo=timezone.utc),
        datetime(9998, 12, 31, 23, 59, 59),
        None,
    ]
    assert encode_times(utc) == [encode_time(value) for value in utc]
    mixed = [
        *utc,
        datetime(2026, 11, 20, 10, 0, tzinfo=timezone(timedelta(hours=2))),
        datetime(2026, 11, 20, 6, 0, tzinfo=timezone(timedelta(hours=-2))),
    ]
    assert encode_times(mixed) == [encode_time(value) for value in mixed]
