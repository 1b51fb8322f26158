"""Join run_results.json / sources.json entries with the manifest into :class:`NodeResult` objects.

A result whose node the manifest lacks (or when there is no manifest) is still kept, with what
the results file says: the name is the last part of its unique_id.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Optional, Union

from airflow_provider_databand_dbt.collector.artifacts import (
    FreshnessResult,
    FreshnessThreshold,
    Manifest,
    ManifestNode,
    RunResult,
    Timing,
    parse_timestamp,
)
from airflow_provider_databand_dbt.model.report import NodeResult


def run_result_nodes(results: Iterable[RunResult], manifest: Optional[Manifest]) -> list[NodeResult]:
    """One NodeResult per run_results entry (models, tests, unit tests, seeds, snapshots, operations)."""
    lookup = manifest.lookup if manifest is not None else _no_node
    # A step records each node once (the store's key is step + unique_id); should a results file
    # list a node twice, its last entry is what dbt ended with.
    by_id: dict[str, NodeResult] = {}
    for entry in results:
        by_id[entry.unique_id] = _from_run_result(entry, lookup(entry.unique_id))
    return list(by_id.values())


def freshness_nodes(results: Iterable[FreshnessResult], manifest: Optional[Manifest]) -> list[NodeResult]:
    """One NodeResult (resource_type ``source``) per sources.json entry."""
    lookup = manifest.lookup if manifest is not None else _no_node
    by_id: dict[str, NodeResult] = {}
    for entry in results:
        by_id[entry.unique_id] = _from_freshness(entry, lookup(entry.unique_id))
    return list(by_id.values())


def _from_run_result(entry: RunResult, node: Optional[ManifestNode]) -> NodeResult:
    # Built field by field (no intermediate dicts): this runs once per node of runs with 100,000s of them.
    unique_id = entry.unique_id
    name, resource_type, depends_on, materialization, tags, package_name, code_hash, relation = _manifest_part(
        unique_id, node
    )
    started_at, finished_at = _execution_window(entry.timing)
    response = entry.adapter_response
    return NodeResult(
        unique_id=unique_id,
        name=name,
        resource_type=resource_type,
        status=entry.status,
        execution_time=entry.execution_time,
        rows_affected=_as_int(response.rows_affected) if response is not None else None,
        message=entry.message,
        failures=entry.failures,
        depends_on=depends_on,
        started_at=started_at,
        finished_at=finished_at,
        materialization=materialization,
        tags=tags,
        package_name=package_name,
        code_hash=code_hash,
        thread_id=entry.thread_id,
        database=relation[0],
        schema=relation[1],
        alias=relation[2],
    )


def _from_freshness(entry: FreshnessResult, node: Optional[ManifestNode]) -> NodeResult:
    unique_id = entry.unique_id
    name, _, depends_on, materialization, tags, package_name, code_hash, relation = _manifest_part(unique_id, node)
    started_at, finished_at = _execution_window(entry.timing)
    return NodeResult(
        unique_id=unique_id,
        name=name,
        resource_type="source",
        status=entry.status,
        execution_time=entry.execution_time,
        message=freshness_message(entry),
        depends_on=depends_on,
        started_at=started_at,
        finished_at=finished_at,
        materialization=materialization,
        tags=tags,
        package_name=package_name,
        code_hash=code_hash,
        thread_id=entry.thread_id,
        database=relation[0],
        schema=relation[1],
        alias=relation[2],
    )


def freshness_message(entry: FreshnessResult) -> Optional[str]:
    """Why a source got its freshness status, e.g. ``last loaded 2 days 1 hour ago (warn after 12 hours, ...)``."""
    age = entry.max_loaded_at_time_ago_in_s
    if entry.status == "runtime error" or age is None:
        return entry.error or entry.message
    text = f"max_loaded_at {entry.max_loaded_at} is {describe_age(age)} old"
    criteria = entry.criteria
    limits = [
        f"{label} after {_threshold(threshold)}"
        for label, threshold in (
            ("warn", criteria.warn_after if criteria else None),
            ("error", criteria.error_after if criteria else None),
        )
        if _threshold(threshold)
    ]
    return f"{text} ({', '.join(limits)})" if limits else text


def describe_age(seconds: float) -> str:
    """Seconds as the two largest units a person reads at a glance: ``2 days 1 hour``, ``49 minutes``."""
    remaining = int(max(seconds, 0))
    parts = []
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1)):
        count, remaining = divmod(remaining, size)
        if count:
            parts.append(f"{count} {unit}{'s' if count != 1 else ''}")
    return " ".join(parts[:2]) or "0 seconds"


def _threshold(threshold: Optional[FreshnessThreshold]) -> Optional[str]:
    if threshold is None or not threshold.count or not threshold.period:
        return None
    return f"{threshold.count} {threshold.period}{'s' if threshold.count != 1 else ''}"


def _manifest_part(unique_id: str, node: Optional[ManifestNode]) -> tuple:
    """``(name, resource_type, depends_on, materialization, tags, package_name, code_hash, relation)`` for a node.

    ``relation`` is ``(database, schema, alias)``; a source has no alias, so its identifier is used.

    Without a manifest entry the name is the last part of the unique_id and the resource type its first.
    The lists are the manifest's own, not copies: every step's result of a node shares them (treat them as
    read-only), which saves one list per node and step on runs with 100,000s of results.
    """
    if node is None:
        return unique_id.rsplit(".", 1)[-1], unique_id.split(".", 1)[0], [], None, [], None, None, _NO_RELATION
    return (
        node.name or unique_id.rsplit(".", 1)[-1],
        node.resource_type or unique_id.split(".", 1)[0],
        node.depends_on.nodes if node.depends_on is not None else [],
        node.config.materialized if node.config is not None else None,
        node.tag_list,
        node.package_name,
        node.code_hash,
        (node.database, node.schema, node.alias or node.identifier),
    )


_NO_RELATION = (None, None, None)


def _no_node(unique_id: str) -> None:
    return None


def _execution_window(timing: Sequence[Timing]) -> tuple[Optional[datetime], Optional[datetime]]:
    """When the node executed: dbt's ``execute`` timing, else the span of all its timings."""
    if not timing:
        return None, None
    for phase in timing:
        if phase.name == "execute":
            return parse_timestamp(phase.started_at), parse_timestamp(phase.completed_at)
    return parse_timestamp(timing[0].started_at), parse_timestamp(timing[-1].completed_at)


def _as_int(value: Union[int, float, str, None]) -> Optional[int]:
    if value is None or isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):
        return None
