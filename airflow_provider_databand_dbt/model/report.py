"""The typed result of collecting one dbt Cloud run: what every tracker stores and returns."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from typing import Any, Optional

import msgspec

from airflow_provider_databand_dbt.model.lineage import RunLineage
from airflow_provider_databand_dbt.model.status import NODE_FAILED, is_terminal


class NodeResult(msgspec.Struct, kw_only=True, gc=False):
    """One dbt node's outcome in one step: a model, test, unit test, seed, snapshot or source freshness check.

    ``status`` is written as dbt writes it (success, error, skipped, pass, fail, warn, runtime error...).
    """

    unique_id: str
    name: str
    resource_type: str
    status: str
    execution_time: Optional[float] = None
    rows_affected: Optional[int] = None
    message: Optional[str] = None
    failures: Optional[int] = None
    depends_on: list[str] = []
    started_at: Optional[datetime] = None
    finished_at: Optional[datetime] = None
    materialization: Optional[str] = None
    tags: list[str] = []
    package_name: Optional[str] = None
    code_hash: Optional[str] = None
    thread_id: Optional[str] = None
    # Where the node builds (its relation): the manifest's database, schema and alias.
    database: Optional[str] = None
    schema: Optional[str] = None
    alias: Optional[str] = None


def counted_rows(rows_affected: Optional[int]) -> Optional[int]:
    """The rows a node affected, or None when its adapter did not count them.

    dbt keeps the database driver's answer: PostgreSQL and Redshift say -1 for statements without a row
    count (``CREATE VIEW``, ``CREATE FUNCTION``...). The store keeps it as dbt wrote it; readers show this.
    """
    return rows_affected if rows_affected is not None and rows_affected >= 0 else None


class ArtifactMissing(msgspec.Struct, kw_only=True, gc=False):
    """An artifact we expected for a step but could not use, and why (404, truncated, malformed...)."""

    artifact: str
    reason: str


class RereadFailure(msgspec.Struct, kw_only=True, gc=False):
    """A later collection could not re-read artifacts of a step whose nodes the store kept from an earlier one."""

    at: datetime
    artifacts_missing: list[ArtifactMissing] = []


class StepHeader(msgspec.Struct, kw_only=True, gc=False):
    """One dbt Cloud run step (``Invoke dbt with `dbt build` ``...) without its node results.

    ``reread_failed`` is set by the store only: the nodes shown come from an earlier collection.
    """

    index: int
    name: str
    command: Optional[str] = None
    status: str
    started_at: Optional[datetime] = None
    finished_at: Optional[datetime] = None
    duration_seconds: Optional[float] = None
    artifacts_missing: list[ArtifactMissing] = []
    reread_failed: Optional[RereadFailure] = None


class StepReport(StepHeader, kw_only=True):
    """One dbt Cloud run step, with the node results its artifacts describe."""

    nodes: list[NodeResult] = []


class RunHeader(msgspec.Struct, kw_only=True, gc=False):
    """What dbt Cloud says about one run, keyed by (host, account_id, run_id), without its steps.

    ``status`` is one of queued, starting, running, success, error, cancelled. Shared by the report,
    the store's run listings and the web view, so the run's fields are declared once. ``notes`` says
    which values the store had to clamp or drop to keep the run (e.g. a NUL byte, a 2^70 count).
    """

    host: str
    account_id: int
    run_id: int
    job_id: Optional[int] = None
    job_name: Optional[str] = None
    project_id: Optional[int] = None
    project_name: Optional[str] = None
    environment_id: Optional[int] = None
    environment_name: Optional[str] = None
    status: str
    status_message: Optional[str] = None
    trigger_cause: Optional[str] = None
    git_branch: Optional[str] = None
    git_sha: Optional[str] = None
    dbt_version: Optional[str] = None
    created_at: Optional[datetime] = None
    started_at: Optional[datetime] = None
    finished_at: Optional[datetime] = None
    duration_seconds: Optional[float] = None
    url: Optional[str] = None
    # The run this one retries (dbt Cloud's "rerun from failure"); None for a run that is not a retry.
    retry_of_run_id: Optional[int] = None
    notes: list[str] = []


class RunReport(RunHeader, kw_only=True):
    """Everything we know about one dbt Cloud run: its header, steps and every node result."""

    steps: list[StepReport] = []
    collected_at: Optional[datetime] = None
    # Only when a sink asked the collector for it (OpenLineage); never stored, never in as_dict().
    lineage: Optional[RunLineage] = None

    @property
    def is_finished(self) -> bool:
        return is_terminal(self.status)

    @property
    def summary(self) -> dict[str, int]:
        """Node counts per dbt status over all steps, e.g. ``{"success": 7, "fail": 1, "skipped": 2}``."""
        return dict(Counter(node.status for step in self.steps for node in step.nodes))

    def iter_nodes(self) -> Iterator[tuple[StepReport, NodeResult]]:
        """Yield ``(step, node)`` for every node result of the run."""
        for step in self.steps:
            for node in step.nodes:
                yield step, node

    def failed_nodes(self) -> list[NodeResult]:
        """Nodes whose status means something went wrong (error, fail, runtime error, warn excluded)."""
        return [node for _, node in self.iter_nodes() if node.status in NODE_FAILED]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready data (datetimes as ISO 8601 strings) with a ``summary`` of node counts per status."""
        data: dict[str, Any] = msgspec.to_builtins(self)
        data.pop("lineage", None)
        data["summary"] = self.summary
        return data

    def to_json(self) -> bytes:
        return msgspec.json.encode(self.as_dict())

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunReport:
        """Inverse of :meth:`as_dict` (``summary`` is derived, so it is ignored)."""
        data = {k: v for k, v in data.items() if k != "summary"}
        return msgspec.convert(data, cls)
