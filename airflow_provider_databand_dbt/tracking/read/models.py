"""Page-shaped rows the reader returns: the CLI prints them, the pages render them, the JSON API encodes them.

Datetimes are aware UTC; the API encodes them as ISO 8601.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Optional

import msgspec

from airflow_provider_databand_dbt.model.attribution import Attribution
from airflow_provider_databand_dbt.model.report import RunHeader, StepHeader
from airflow_provider_databand_dbt.model.source import TrackingSource


class DurationPoint(msgspec.Struct, kw_only=True):
    """One run on a trend chart: where it sits in time, how long it took, how it ended."""

    run_id: int
    status: str
    created_at: Optional[datetime] = None
    duration_seconds: Optional[float] = None
    # Set on node history points, whose runs may come from several accounts.
    account_id: Optional[int] = None
    host: Optional[str] = None


class PipelineSummary(msgspec.Struct, kw_only=True):
    """One row of the Pipelines page: identity, last run and health over the last runs."""

    host: str
    account_id: int
    job_id: int
    name: Optional[str] = None
    project_id: Optional[int] = None
    project_name: Optional[str] = None
    environment_id: Optional[int] = None
    environment_name: Optional[str] = None
    run_count: int = 0
    last_run_id: Optional[int] = None
    last_status: Optional[str] = None
    last_run_at: Optional[datetime] = None
    window_runs: int = 0
    success_rate: Optional[float] = None
    median_duration_seconds: Optional[float] = None
    trackers: list[str] = []
    recent: list[DurationPoint] = []


class RunRow(RunHeader, kw_only=True):
    """One stored run as listed (no steps or nodes), the one shape of the Python API, the CLI and the web view.

    ``trackers`` are the kinds of tracker (airflow, monitor, cli, api, webhook) that saw the run. Its
    former Python name ``source_kinds`` stays readable (:attr:`source_kinds`), and ``databand-dbt runs
    --json`` still writes it beside ``trackers`` (:meth:`as_dict`).
    """

    run_pk: int
    node_count: int = 0
    summary: dict[str, int] = {}
    trackers: list[str] = []
    first_tracked_at: datetime
    updated_at: datetime

    @property
    def source_kinds(self) -> list[str]:
        """``trackers`` under the name ``TrackingStore.list_runs`` first gave it, kept for existing callers."""
        return self.trackers

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready data (datetimes as ISO 8601) with ``source_kinds``, the CLI's name of ``trackers``, too."""
        data: dict[str, Any] = msgspec.to_builtins(self)
        data["source_kinds"] = data["trackers"]
        return data


class RunsPage(msgspec.Struct, kw_only=True):
    items: list[RunRow]
    total: int
    page: int
    page_size: int


class PipelinesPage(msgspec.Struct, kw_only=True):
    items: list[PipelineSummary]
    total: int
    page: int
    page_size: int
    runs_without_pipeline: int = 0


class RunMatch(msgspec.Struct, kw_only=True):
    """A stored run with a given dbt Cloud run id; several when hosts or accounts share the id."""

    host: str
    account_id: int
    run_id: int
    job_id: Optional[int] = None
    job_name: Optional[str] = None
    status: str
    created_at: Optional[datetime] = None


class SourceRow(TrackingSource, kw_only=True):
    """Who tracked the run; for Airflow tasks ``airflow_url`` links the task instance when known."""

    airflow_url: Optional[str] = None


class TriggeredBy(Attribution, kw_only=True, frozen=True):
    """The Airflow task instance named in the run's cause; ``airflow_url`` links it when Airflow's address is known."""

    airflow_url: Optional[str] = None


class StepRow(StepHeader, kw_only=True):
    """One step of the Run page: its header and node counts per status (the nodes are paged apart)."""

    node_counts: dict[str, int] = {}


class ChainRun(msgspec.Struct, kw_only=True):
    """One run of a retry chain; ``stored`` is False for a run named by a retry but never tracked."""

    run_id: int
    status: Optional[str] = None
    stored: bool = True


class RetryChain(msgspec.Struct, kw_only=True):
    """The runs linked by dbt Cloud's "rerun from failure", the first run first.

    ``position`` is this run's place (0: the first run, 2: its second retry); ``failed_step`` is the
    step at which the first run failed, when stored.
    """

    first_run_id: int
    position: int
    failed_step: Optional[int] = None
    runs: list[ChainRun] = []


class RunDetail(RunHeader, kw_only=True):
    """The Run page header: the run, its pipeline, its steps and who tracked it."""

    node_count: int = 0
    summary: dict[str, int] = {}
    collected_at: Optional[datetime] = None
    updated_at: Optional[datetime] = None
    steps: list[StepRow] = []
    sources: list[SourceRow] = []
    triggered_by: Optional[TriggeredBy] = None
    # Set when the run retries, or was retried by, another stored run (tracking/read/chains.py).
    retry_chain: Optional[RetryChain] = None


class NodeRow(msgspec.Struct, kw_only=True):
    """One node result in one step of a run."""

    step_index: int
    unique_id: str
    name: str
    resource_type: str
    status: str
    execution_time: Optional[float] = None
    rows_affected: Optional[int] = None
    message: Optional[str] = None
    failures: Optional[int] = None
    materialization: Optional[str] = None
    started_at: Optional[datetime] = None
    finished_at: Optional[datetime] = None


class NodesPage(msgspec.Struct, kw_only=True):
    items: list[NodeRow]
    total: int
    page: int
    page_size: int
    by_status: dict[str, int] = {}
    by_resource_type: dict[str, int] = {}


class TimedNode(msgspec.Struct, kw_only=True):
    """A node execution on the Gantt chart; ``start``/``end`` are UTC epoch seconds (None when dbt gave no timing)."""

    step_index: int
    unique_id: str
    name: str
    resource_type: str
    status: str
    start: Optional[float] = None
    end: Optional[float] = None
    execution_time: Optional[float] = None
    thread_id: Optional[str] = None


class LineageNode(msgspec.Struct, kw_only=True):
    unique_id: str
    name: str
    resource_type: str
    status: str


class FailureLineage(msgspec.Struct, kw_only=True):
    """A failed node with the failed nodes upstream of it and the nodes skipped downstream of it."""

    node: LineageNode
    message: Optional[str] = None
    failed_upstream: list[LineageNode] = []
    skipped_downstream: list[LineageNode] = []
    # The lists stop at MAX_LINEAGE_LIST nodes; the totals count all found (the search itself stops
    # after MAX_LINEAGE_VISITS nodes of a huge graph, then ``truncated`` is true).
    failed_upstream_total: int = 0
    skipped_downstream_total: int = 0
    truncated: bool = False


class NodeRun(msgspec.Struct, kw_only=True):
    """One node's result in one run: a row of the Node history page."""

    run_id: int
    host: str
    account_id: int
    job_id: Optional[int] = None
    job_name: Optional[str] = None
    run_status: str
    run_created_at: Optional[datetime] = None
    step_index: int
    name: str
    resource_type: str
    status: str
    execution_time: Optional[float] = None
    rows_affected: Optional[int] = None
    message: Optional[str] = None


class NodeTrend(msgspec.Struct, kw_only=True):
    """Answers "since when is it failing, and is it getting slower?" from the newest results."""

    failing: bool = False
    failing_since_run_id: Optional[int] = None
    failing_since: Optional[datetime] = None
    failing_runs: int = 0
    last_ok_run_id: Optional[int] = None
    last_ok_at: Optional[datetime] = None
    recent_median_seconds: Optional[float] = None
    earlier_median_seconds: Optional[float] = None
    slowdown_ratio: Optional[float] = None


class NodeHistory(msgspec.Struct, kw_only=True):
    unique_id: str
    name: Optional[str] = None
    resource_type: Optional[str] = None
    items: list[NodeRun] = []
    total: int = 0
    page: int = 1
    page_size: int = 50
    trend: NodeTrend = msgspec.field(default_factory=NodeTrend)
    chart: list[DurationPoint] = []
