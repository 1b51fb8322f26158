"""What the rules look at, read from the store: the evaluated run, its nodes, and the pipeline's earlier runs.

Plain structs, so the rules (``alerts.rules``) are pure functions that tests and the benchmark can
also feed directly.
"""

from __future__ import annotations

from datetime import datetime
from typing import Optional

import msgspec

from airflow_provider_databand_dbt.alerts.notification import PipelineRef


class RunFacts(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """One finished run of the pipeline (the evaluated one, or an earlier one)."""

    run_pk: int
    run_id: int
    status: str
    duration_seconds: Optional[float] = None
    created_at: Optional[datetime] = None
    finished_at: Optional[datetime] = None
    status_message: Optional[str] = None
    url: Optional[str] = None


class NodeFacts(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """A node's result in one run (its last step there); names and dependencies only for the evaluated run."""

    node_id: int
    status: str
    run_id: int = 0
    execution_time: Optional[float] = None
    rows_affected: Optional[int] = None
    unique_id: str = ""
    name: Optional[str] = None
    resource_type: Optional[str] = None
    message: Optional[str] = None
    depends_on: tuple[str, ...] = ()


class PipelineFacts(msgspec.Struct, frozen=True, kw_only=True):
    """Everything one evaluation needs.

    :param earlier_runs: the last N finished runs before ``run``, newest first.
    :param earlier_nodes: per node id, its results in ``earlier_runs``, newest first.
    :param flagged: per (rule, node id or None), the run id spans (first, last) of its incidents that reach
        into ``earlier_runs``: values the rules already called anomalous, left out of the statistics so one
        regression does not raise the bar for the next.
    """

    pipeline_id: int
    pipeline: PipelineRef
    run: RunFacts
    nodes: tuple[NodeFacts, ...]
    earlier_runs: tuple[RunFacts, ...]
    earlier_nodes: dict[int, tuple[NodeFacts, ...]]
    flagged: dict[tuple[str, Optional[int]], tuple[tuple[int, int], ...]] = {}

    def is_flagged(self, rule: str, node_id: Optional[int], run_id: int) -> bool:
        """Whether ``run_id``'s value of this subject was part of an incident of ``rule``."""
        return any(first <= run_id <= last for first, last in self.flagged.get((rule, node_id), ()))
