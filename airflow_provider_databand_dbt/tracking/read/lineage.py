"""A run's failures with the failed nodes upstream of each and the nodes skipped downstream of it."""

from __future__ import annotations

from collections import defaultdict, deque
from typing import Optional

import msgspec
from sqlalchemy.engine import Connection

from airflow_provider_databand_dbt.model.status import NODE_FAILED
from airflow_provider_databand_dbt.tracking.read import nodes
from airflow_provider_databand_dbt.tracking.read.models import FailureLineage, LineageNode

MAX_LINEAGE_FAILURES = 50
# Bounds for runs of 100,000+ nodes: nodes listed per failure and direction, nodes visited per search.
MAX_LINEAGE_LIST = 100
MAX_LINEAGE_VISITS = 5_000


def failure_lineage(conn: Connection, run_pk: int) -> list[FailureLineage]:
    """For each failed node: the failed nodes upstream of it and the skipped nodes downstream of it."""
    if not nodes.failed_count(conn, run_pk):
        return []
    # The whole graph of the run, kept as plain strings: thousands of nodes, so no objects per node.
    status_of: dict[str, str] = {}
    parents: dict[str, list[str]] = {}
    children: dict[str, list[str]] = defaultdict(list)
    for unique_id, status, depends_on in nodes.dependency_graph(conn, run_pk):
        status_of[unique_id] = status  # a node seen in several steps keeps its latest step's outcome
        parents[unique_id] = _id_list(depends_on)
    for child, parent_ids in parents.items():
        for parent in parent_ids:
            children[parent].append(child)
    failed = sorted(uid for uid, status in status_of.items() if status in NODE_FAILED)[:MAX_LINEAGE_FAILURES]
    found = []
    for unique_id in failed:
        ups, ups_cut = _reachable(unique_id, parents)
        downs, downs_cut = _reachable(unique_id, children)
        upstream = sorted(u for u in ups if status_of.get(u) in NODE_FAILED)
        downstream = sorted(d for d in downs if status_of.get(d) == "skipped")
        found.append((unique_id, upstream, downstream, ups_cut or downs_cut))
    wanted = {
        listed
        for failure, ups, downs, _ in found
        for listed in (failure, *ups[:MAX_LINEAGE_LIST], *downs[:MAX_LINEAGE_LIST])
    }
    details = nodes.node_details(conn, run_pk, sorted(wanted))

    def lineage_node(uid: str) -> LineageNode:
        row = details[uid]
        return LineageNode(unique_id=uid, name=row.name, resource_type=row.resource_type, status=status_of[uid])

    return [
        FailureLineage(
            node=lineage_node(uid),
            message=details[uid].message,
            failed_upstream=[lineage_node(u) for u in upstream[:MAX_LINEAGE_LIST]],
            skipped_downstream=[lineage_node(d) for d in downstream[:MAX_LINEAGE_LIST]],
            failed_upstream_total=len(upstream),
            skipped_downstream_total=len(downstream),
            truncated=cut,
        )
        for uid, upstream, downstream, cut in found
    ]


def _id_list(value: Optional[object]) -> list[str]:
    """``depends_on`` as stored: JSON text on SQLite, already a list from psycopg."""
    if isinstance(value, (str, bytes)):
        return msgspec.json.decode(value) if value and value != "[]" else []
    return list(value or ())  # type: ignore[call-overload]


def _reachable(start: str, edges: dict[str, list[str]]) -> tuple[set[str], bool]:
    """Nodes reachable from ``start``, and whether the search stopped at ``MAX_LINEAGE_VISITS``."""
    seen: set[str] = set()
    queue = deque(edges.get(start, ()))
    while queue:
        if len(seen) >= MAX_LINEAGE_VISITS:
            return seen, True
        current = queue.popleft()
        if current in seen or current == start:
            continue
        seen.add(current)
        queue.extend(edges.get(current, ()))
    return seen, False
