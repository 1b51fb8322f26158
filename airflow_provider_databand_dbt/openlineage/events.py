"""A tracked run as OpenLineage run events: one for the dbt Cloud run, one per executed node.

The run-level event is START while the run is queued or running and COMPLETE, FAIL or ABORT once it
finished; its parent is the Airflow task that triggered it, when there is one. Every executed model,
seed, snapshot and test gets one event (COMPLETE, or FAIL when it failed) whose parent is the run-level
run; skipped nodes did not execute and get none. Times come from the run's and the nodes' own timings.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Optional

from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState

from airflow_provider_databand_dbt.model.lineage import NodeLineage, RunLineage
from airflow_provider_databand_dbt.model.report import NodeResult, RunReport, StepReport
from airflow_provider_databand_dbt.model.source import TrackingSource
from airflow_provider_databand_dbt.model.status import NODE_FAILED, is_terminal
from airflow_provider_databand_dbt.openlineage import facets
from airflow_provider_databand_dbt.openlineage.config import LineageSettings
from airflow_provider_databand_dbt.openlineage.datasets import DatasetIndex, DatasetRef
from airflow_provider_databand_dbt.openlineage.ids import (
    AirflowParent,
    airflow_parent,
    airflow_task_run_id,
    node_run_id,
    run_level_run_id,
)

# The nodes that get an event, with their jobType.
NODE_JOB_TYPES = {"model": "MODEL", "seed": "SEED", "snapshot": "SNAPSHOT", "test": "TEST"}
_FINAL_STATES = {"success": RunState.COMPLETE, "error": RunState.FAIL, "cancelled": RunState.ABORT}
_NO_LINEAGE = NodeLineage()


def run_job_name(report: RunReport) -> str:
    """The dbt Cloud job as an OpenLineage job: ``dbt_cloud.<account id>.<job id>`` (stable across renames)."""
    return f"dbt_cloud.{report.account_id}.{report.job_id if report.job_id is not None else 'run'}"


def node_job_name(node: NodeResult) -> str:
    """``database.schema.name`` as dbt-ol names node jobs, with the resource type for non-models."""
    if not node.schema:
        return node.unique_id
    base = ".".join(part for part in (node.database, node.schema, node.name) if part)
    return base if node.resource_type == "model" else f"{base}.{node.resource_type}"


def run_events(report: RunReport, source: TrackingSource, settings: LineageSettings) -> list[RunEvent]:
    """Every event for one tracked run, node events first and the run-level event last once the run finished."""
    builder = _Builder(report, source, settings)
    run_event = builder.run_event()
    nodes = [builder.node_event(step, node) for step, node in report.iter_nodes() if _executed(node)]
    if is_terminal(report.status):
        return [*nodes, run_event]
    return [run_event, *nodes]


def _executed(node: NodeResult) -> bool:
    return node.resource_type in NODE_JOB_TYPES and node.status != "skipped"


class _Builder:
    def __init__(self, report: RunReport, source: TrackingSource, settings: LineageSettings) -> None:
        self.report = report
        self.settings = settings
        self.lineage: RunLineage = report.lineage or RunLineage()
        self.datasets = DatasetIndex(report, report.lineage, settings.dataset_namespace)
        self.run_id = run_level_run_id(report)
        self.job_name = run_job_name(report)
        self.airflow: Optional[AirflowParent] = airflow_parent(report, source)
        self.producer = facets.producer()

    def run_event(self) -> RunEvent:
        report = self.report
        state = _FINAL_STATES.get(report.status, RunState.START) if is_terminal(report.status) else RunState.START
        when = report.finished_at if state is not RunState.START else report.started_at
        run_facets: dict[str, Any] = {facets.DBT_CLOUD_RUN_FACET: facets.dbt_cloud_run(report)}
        _put(run_facets, "processing_engine", facets.processing_engine(report.dbt_version))
        if state is RunState.FAIL and report.status_message:
            run_facets["errorMessage"] = facets.error_message(report.status_message)
        if self.airflow is not None:
            namespace = self.settings.namespace
            task_run_id = airflow_task_run_id(namespace, self.airflow)
            run_facets["parent"] = facets.parent(task_run_id, namespace, self.airflow.job_name)
        return self._event(
            state,
            _time(when, report.created_at, report.collected_at),
            Run(runId=self.run_id, facets=run_facets),
            Job(namespace=self.settings.namespace, name=self.job_name, facets={"jobType": facets.job_type("JOB")}),
        )

    def node_event(self, step: StepReport, node: NodeResult) -> RunEvent:
        details = self.lineage.nodes.get(node.unique_id, _NO_LINEAGE)
        failed = node.status in NODE_FAILED
        run_facets: dict[str, Any] = {"parent": self._parent_of_nodes()}
        _put(run_facets, "processing_engine", facets.processing_engine(self.report.dbt_version))
        if failed:
            run_facets["errorMessage"] = facets.error_message(node.message or f"{node.resource_type} {node.status}")
        job_facets: dict[str, Any] = {"jobType": facets.job_type(NODE_JOB_TYPES[node.resource_type])}
        if details.compiled_code:
            job_facets["sql"] = facets.sql(details.compiled_code, self.lineage.adapter_type)
        inputs, outputs = self._datasets(node, details)
        return self._event(
            RunState.FAIL if failed else RunState.COMPLETE,
            _time(
                node.finished_at, node.started_at, step.finished_at, self.report.finished_at, self.report.collected_at
            ),
            Run(runId=node_run_id(self.report, step.index, node.unique_id), facets=run_facets),
            Job(namespace=self.settings.namespace, name=node_job_name(node), facets=job_facets),
            inputs,
            outputs,
        )

    def _parent_of_nodes(self) -> Any:
        # The dbt Cloud run is the root, unless an Airflow task is above it (whose DAG run id we cannot know).
        root = None if self.airflow is not None else (self.run_id, self.settings.namespace, self.job_name)
        return facets.parent(self.run_id, self.settings.namespace, self.job_name, root)

    def _datasets(self, node: NodeResult, details: NodeLineage) -> tuple[list[InputDataset], list[OutputDataset]]:
        if node.resource_type == "test":
            return self._tested(node, details), []
        inputs = [InputDataset(namespace=ref.namespace, name=ref.name) for ref in self._refs(node.depends_on)]
        own = self.datasets.get(node.unique_id)
        if own is None:
            return inputs, []
        output_facets: dict[str, Any] = {}
        if node.rows_affected is not None and node.rows_affected >= 0:
            output_facets["outputStatistics"] = facets.output_statistics(node.rows_affected)
        return inputs, [OutputDataset(namespace=own.namespace, name=own.name, outputFacets=output_facets)]

    def _tested(self, node: NodeResult, details: NodeLineage) -> list[InputDataset]:
        """The dataset(s) a test checks, each with the test's outcome as ``dataQualityAssertions``."""
        targets = [details.attached_node] if details.attached_node else node.depends_on
        assertion = facets.assertions(
            details.test_name or node.name,
            node.status == "pass",
            details.column_name,
            node.name,
            "warn" if node.status == "warn" else None,
        )
        return [
            InputDataset(namespace=ref.namespace, name=ref.name, inputFacets={"dataQualityAssertions": assertion})
            for ref in self._refs(targets)
        ]

    def _refs(self, unique_ids: list[str]) -> list[DatasetRef]:
        refs = (self.datasets.get(unique_id) for unique_id in unique_ids)
        return [ref for ref in refs if ref is not None]

    def _event(
        self,
        state: RunState,
        when: str,
        run: Run,
        job: Job,
        inputs: Optional[list[InputDataset]] = None,
        outputs: Optional[list[OutputDataset]] = None,
    ) -> RunEvent:
        return RunEvent(
            eventType=state,
            eventTime=when,
            run=run,
            job=job,
            inputs=inputs or [],
            outputs=outputs or [],
            producer=self.producer,
        )


def _put(target: dict[str, Any], key: str, value: Any) -> None:
    if value is not None:
        target[key] = value


def _time(*candidates: Optional[datetime]) -> str:
    """The first known timing as ISO 8601; the collection time is always known for a collected report."""
    for value in candidates:
        if value is not None:
            return value.isoformat()
    raise ValueError("the report has no timing at all (no run, node or collection time)")
