"""What lineage exporters need beyond the report: the warehouse adapter, compiled SQL and what each test checks.

Collected only when a sink asks for it (``TrackingService`` passes ``lineage=True`` to the collector
when one of its sinks has ``wants_lineage``), so tracking without OpenLineage decodes and keeps none
of it. Never stored and never in ``RunReport.as_dict()``: compiled SQL can be large and is not part of
the tracked run.
"""

from __future__ import annotations

from typing import Optional

import msgspec


class NodeLineage(msgspec.Struct, kw_only=True, gc=False, omit_defaults=True):
    """One executed node's lineage details.

    :param compiled_code: the SQL dbt ran (run_results.json ``compiled_code``), None when not compiled.
    :param test_name: a generic test's name (``not_null``, ``unique``...), None for other nodes.
    :param column_name: the column a test checks, None for a table-level test.
    :param attached_node: the model, seed, snapshot or source a test is attached to (dbt >= 1.5).
    """

    compiled_code: Optional[str] = None
    test_name: Optional[str] = None
    column_name: Optional[str] = None
    attached_node: Optional[str] = None


class Relation(msgspec.Struct, kw_only=True, gc=False, frozen=True):
    """Where a model, seed, snapshot or source lives in the warehouse, as the manifest says."""

    resource_type: str
    database: Optional[str] = None
    schema: Optional[str] = None
    name: Optional[str] = None


class RunLineage(msgspec.Struct, kw_only=True, gc=False):
    """The run's lineage details.

    :param adapter_type: the manifest's ``metadata.adapter_type`` (``snowflake``, ``duckdb``...).
    :param nodes: a :class:`NodeLineage` per executed node's unique_id (only those with something to tell).
    :param parents: the relation of every parent of an executed node, so a node's inputs are known even
        when its parents did not run in this run.
    """

    adapter_type: Optional[str] = None
    nodes: dict[str, NodeLineage] = {}
    parents: dict[str, Relation] = {}
