"""Lineage details of a step's executed nodes (compiled SQL, what a test checks), for sinks that ask for them.

Only built when ``collect_run(..., lineage=True)``: the artifacts are then decoded with the
``Lineage*`` structs of :mod:`.artifacts`, which keep the fields read here.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Optional

from airflow_provider_databand_dbt.collector.artifacts import LineageManifestNode, Manifest
from airflow_provider_databand_dbt.model.lineage import NodeLineage, Relation, RunLineage

# Parents that are relations in the warehouse (datasets); tests, operations and ephemeral models are not.
DATASET_TYPES = frozenset({"model", "seed", "snapshot", "source"})
# A node's SQL beyond this many characters is not exported (a generated statement, not something to read).
MAX_COMPILED_CODE_CHARS = 1_000_000


def add_step_lineage(lineage: RunLineage, results: Iterable[Any], manifest: Optional[Manifest]) -> None:
    """Add one step's executed nodes (and their parents' relations) to ``lineage``."""
    entries = list(results)
    lineage.nodes.update(nodes_lineage(entries, manifest))
    if manifest is not None:
        lineage.parents.update(parent_relations(entries, manifest, known=lineage.parents))


def parent_relations(results: Iterable[Any], manifest: Manifest, known: Optional[dict] = None) -> dict[str, Relation]:
    """``{unique_id: Relation}`` of the parents of the executed nodes that are datasets (not ephemeral)."""
    found: dict[str, Relation] = {}
    seen = set(known or ())
    for entry in results:
        node = manifest.lookup(entry.unique_id)
        for parent_id in node.parents if node is not None else ():
            if parent_id in seen:
                continue
            seen.add(parent_id)
            parent = manifest.lookup(parent_id)
            relation = _relation(parent_id, parent) if parent is not None else None
            if relation is not None:
                found[parent_id] = relation
    return found


def _relation(unique_id: str, node: Any) -> Optional[Relation]:
    resource_type = node.resource_type or unique_id.split(".", 1)[0]
    if resource_type not in DATASET_TYPES or node.materialization == "ephemeral":
        return None
    return Relation(
        resource_type=resource_type,
        database=node.database,
        schema=node.schema,
        name=node.alias or node.identifier or node.name,
    )


def nodes_lineage(results: Iterable[Any], manifest: Optional[Manifest]) -> dict[str, NodeLineage]:
    """``{unique_id: NodeLineage}`` for the entries of one results file that have anything to tell.

    :param results: run_results.json entries (``LineageRunResult``) or sources.json entries.
    :param manifest: the run's manifest, decoded as ``LineageManifest``, or None.
    """
    found: dict[str, NodeLineage] = {}
    for entry in results:
        code = getattr(entry, "compiled_code", None)
        if code and len(code) > MAX_COMPILED_CODE_CHARS:
            code = None
        node = manifest.lookup(entry.unique_id) if manifest is not None else None
        test = node if isinstance(node, LineageManifestNode) else None
        details = NodeLineage(
            compiled_code=code or None,
            test_name=test.test_metadata.name if test is not None and test.test_metadata is not None else None,
            column_name=test.column_name if test is not None else None,
            attached_node=test.attached_node if test is not None else None,
        )
        if details != _NOTHING:
            found[entry.unique_id] = details
    return found


_NOTHING = NodeLineage()
