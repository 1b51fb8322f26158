"""The bulk save's shortcuts (issue 12's collection time): each keeps what the store held before."""

from __future__ import annotations

from datetime import datetime, timezone

import msgspec
import sqlalchemy as sa

from airflow_provider_databand_dbt.model.report import NodeResult
from airflow_provider_databand_dbt.tracking.definitions import definition_hash, definition_keys
from airflow_provider_databand_dbt.tracking.fit import _Fitter, nodes_may_need_fitting
from airflow_provider_databand_dbt.tracking.schema import nodes
from airflow_provider_databand_dbt.tracking.store import TrackingStore
from tests.tracking.report_factory import make_node, make_report


def _reversed_ids(report):
    """The report with its nodes' unique_ids in descending order, so report order and sorted order differ."""
    steps = [
        msgspec.structs.replace(
            step,
            nodes=[
                msgspec.structs.replace(node, unique_id=f"model.p.n{999 - i:03d}") for i, node in enumerate(step.nodes)
            ],
        )
        for step in report.steps
    ]
    return msgspec.structs.replace(report, steps=steps)


def test_a_save_checks_no_foreign_keys_yet_leaves_them_consistent_and_on(sqlite_url):
    store = TrackingStore(sqlite_url)
    try:
        store.save_report(make_report(node_count=40))
        store.save_report(make_report(node_count=50))  # the update path, over the same run
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA foreign_key_check").all() == []
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    finally:
        store.close()


def test_sqlite_numbers_new_nodes_in_the_order_the_run_reported_them(sqlite_url):
    store = TrackingStore(sqlite_url)
    try:
        report = _reversed_ids(make_report(node_count=30))
        store.save_report(report)
        with store.engine.connect() as conn:
            stored = conn.execute(sa.select(nodes.c.unique_id).order_by(nodes.c.id)).scalars().all()
        reported = list(dict.fromkeys(node.unique_id for step in report.steps for node in step.nodes))
        assert stored == reported != sorted(reported)
        assert store.get_report(report.run_id).steps == report.steps
    finally:
        store.close()


def test_definition_keys_hash_each_definition_as_definition_hash_does():
    first = make_node(1)
    again = msgspec.structs.replace(first, status="error")  # another step's result of the same node
    retagged = msgspec.structs.replace(first, tags=["other"])  # the same node with another definition
    equal_copy = msgspec.structs.replace(first, tags=list(first.tags), depends_on=list(first.depends_on))
    keys = definition_keys([first, again, retagged, equal_copy, make_node(2)])
    assert keys == [
        (node.unique_id, definition_hash(node)) for node in (first, again, retagged, equal_copy, make_node(2))
    ]
    assert keys[0] == keys[1] == keys[3] != keys[2]


def _clean_nodes() -> list[NodeResult]:
    return [make_node(i) for i in range(20)]


def test_the_fitting_screen_passes_clean_nodes_and_catches_each_kind_of_problem():
    assert not nodes_may_need_fitting(_clean_nodes(), strip_nul=True)
    assert not nodes_may_need_fitting([], strip_nul=True)
    edge = datetime(9999, 1, 1, tzinfo=timezone.utc)
    problems = {
        "status": {"status": "s" * 40},
        "unique_id": {"unique_id": "model.p." + "x" * 600},
        "execution_time": {"execution_time": float("nan")},
        "rows_affected": {"rows_affected": 1 << 70},
        "failures": {"failures": -(1 << 70)},
        "late": {"finished_at": edge},
        "early": {"started_at": datetime(1, 1, 1, 3, tzinfo=timezone.utc)},
        "surrogate": {"message": "bad \udc80"},
        "nul": {"name": "a\x00b"},
    }
    for what, change in problems.items():
        nodes = _clean_nodes()
        nodes[7] = msgspec.structs.replace(nodes[7], **change)
        assert nodes_may_need_fitting(nodes, strip_nul=True), what
    nul = _clean_nodes()
    nul[3] = msgspec.structs.replace(nul[3], name="a\x00b")
    assert not nodes_may_need_fitting(nul, strip_nul=False)  # SQLite keeps NUL bytes
    accented = _clean_nodes()
    accented[5] = msgspec.structs.replace(accented[5], message="déjà vu ✓", tags=["ünïcode"])
    assert not nodes_may_need_fitting(accented, strip_nul=True)  # text beyond ASCII is fine when it encodes


def test_the_fitting_screen_passes_no_node_the_fitter_would_change():
    """The screen's False is a promise: a hostile value in any text column or list is sent to the fitter."""
    changes = {
        "surrogate in depends_on": {"depends_on": ["model.p.a", "model.p.\udc80"]},
        "NUL in a tag": {"tags": ["a\x00b"]},
        "surrogate in thread_id": {"thread_id": "Thread-\ud800"},
        "NUL in alias": {"alias": "x\x00"},
    }
    for what, change in changes.items():
        nodes = _clean_nodes()
        nodes[11] = msgspec.structs.replace(nodes[11], **change)
        assert _Fitter(strip_nul=True).node(nodes[11]) != nodes[11], what  # the fitter changes it...
        assert nodes_may_need_fitting(nodes, strip_nul=True), what  # ...so the screen must let it through


def test_saving_keeps_no_object_per_node_for_the_garbage_collector(sqlite_url):
    """A full GC pass walks every tracked object: a save must not keep 100,000s of them alive at once."""
    import gc

    report = make_report(node_count=3000)
    store = TrackingStore(sqlite_url)
    alive: list[int] = []

    def count(phase, info):
        if phase == "start" and info["generation"] == 0:
            alive.append(len(gc.get_objects(generation=2)) + len(gc.get_objects(generation=1)))

    try:
        gc.collect()
        baseline = len(gc.get_objects())
        gc.callbacks.append(count)
        try:
            store.save_report(report)
        finally:
            gc.callbacks.remove(count)
    finally:
        store.close()
    assert alive, "no collection ran while saving"
    assert max(alive) - baseline < 3000
