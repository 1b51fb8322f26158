"""Ids of freshly inserted nodes and definitions: known on SQLite without reading the whole scope back."""

from __future__ import annotations

import msgspec
import sqlalchemy as sa

from airflow_provider_databand_dbt.tracking.bulk import _encoders
from airflow_provider_databand_dbt.tracking.definitions import DefinitionIds, definition_keys
from airflow_provider_databand_dbt.tracking.schema import node_definitions, node_results, nodes
from airflow_provider_databand_dbt.tracking.store import TrackingStore
from tests.tracking.report_factory import BASE_TIME, make_node, make_report


def _statements(store: TrackingStore) -> list[str]:
    seen: list[str] = []
    sa.event.listen(store.engine, "before_cursor_execute", lambda *args: seen.append(args[2]))
    return seen


def _stored_links(store: TrackingStore) -> list[tuple[str, str, str]]:
    """(unique_id of the result's node, unique_id behind its definition, hash) for every stored result."""
    owner = nodes.alias("owner")
    query = (
        sa.select(nodes.c.unique_id, owner.c.unique_id, node_definitions.c.definition_hash)
        .select_from(node_results)
        .join(nodes, nodes.c.id == node_results.c.node_id)
        .join(node_definitions, node_definitions.c.id == node_results.c.definition_id)
        .join(owner, owner.c.id == node_definitions.c.node_id)
        .order_by(node_results.c.id)
    )
    with store.engine.connect() as conn:
        return [tuple(row) for row in conn.execute(query)]


def test_sqlite_first_save_does_not_read_back_the_nodes_and_definitions_it_inserted(sqlite_url):
    with TrackingStore(sqlite_url) as store:
        store.save_report(make_report(node_count=50))  # creates the schema; another pipeline's nodes
        seen = _statements(store)
        report = make_report(run_id=70002, job_id=200, node_count=60)
        store.save_report(report)
        scope_reads = [sql for sql in seen if sql.startswith("SELECT") and "scope = ?" in sql]
        assert len(scope_reads) == 1, scope_reads  # what the scope held before, nothing after inserting
        assert store.get_report(70002).steps == report.steps
        links = _stored_links(store)
        assert len(links) == 110 and all(node == owner for node, owner, _ in links)


def test_new_ids_are_read_back_when_a_row_already_existed(tracking_url):
    """A node and a definition written behind the save's back (as a concurrent save could): no guessed ids."""
    with TrackingStore(tracking_url) as store:
        store.save_report(make_report(node_count=3))
        wanted_nodes = [make_node(i) for i in range(8)]
        keys = definition_keys(wanted_nodes)
        with store.engine.begin() as conn:
            marker = "?" if conn.dialect.paramstyle == "qmark" else "%s"
            known = DefinitionIds(conn, "pipeline:999", marker)
            # Written after ``known`` read the scope: inserting it again does nothing, so the count comes up short.
            conn.execute(nodes.insert().values(scope="pipeline:999", unique_id=wanted_nodes[4].unique_id))
            late_id = conn.execute(sa.select(sa.func.max(nodes.c.id))).scalar_one()
            encode_time, encode_json = _encoders(conn.dialect.name)
            known.complete(dict(zip(keys, wanted_nodes)), encode_time(BASE_TIME), encode_json)
            stored = dict(
                conn.execute(sa.select(nodes.c.unique_id, nodes.c.id).where(nodes.c.scope == "pipeline:999")).all()
            )
            assert known.node_ids == stored and known.node_ids[wanted_nodes[4].unique_id] == late_id
            rows = conn.execute(
                sa.select(nodes.c.unique_id, node_definitions.c.definition_hash, node_definitions.c.id).join(
                    nodes, nodes.c.id == node_definitions.c.node_id
                )
            )
            by_key = {(uid, digest): definition_id for uid, digest, definition_id in rows}
            assert all(known.definition_ids[key] == by_key[key] for key in keys)


def test_a_next_run_with_some_new_nodes_links_every_result_to_its_own_node(tracking_url):
    with TrackingStore(tracking_url) as store:
        store.save_report(make_report(node_count=20))
        grown = make_report(run_id=70002, node_count=30)
        retagged = [
            msgspec.structs.replace(node, tags=["changed"]) if i % 3 == 0 else node
            for i, node in enumerate(grown.steps[1].nodes)
        ]
        grown = msgspec.structs.replace(
            grown, steps=[grown.steps[0], msgspec.structs.replace(grown.steps[1], nodes=retagged)]
        )
        store.save_report(grown)
        assert store.get_report(70002).steps == grown.steps
        assert all(node == owner for node, owner, _ in _stored_links(store))
