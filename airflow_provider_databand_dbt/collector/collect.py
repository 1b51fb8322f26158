"""Collect one dbt Cloud run into a :class:`RunReport`: the heart of every tracker. Never saves.

Saving and anything else done with the report (the store, exporters, alerts) is the tracking
service's job (:mod:`airflow_provider_databand_dbt.sinks`), so every tracker gets the same sinks.

Requests per run: the run (with steps, job and trigger; none when the caller already has it), its
project, its environment, one
results artifact per finished step that has one, and the manifest once. Problems with the run
itself raise typed :mod:`~airflow_provider_databand_dbt.dbt_cloud.errors`; problems with names
or artifacts are logged and recorded on the report, never raised.
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Optional

from airflow_provider_databand_dbt.collector.artifacts import (
    MANIFEST,
    SOURCES,
    Manifest,
    decode_lineage_manifest,
    decode_lineage_run_results,
    decode_manifest,
    decode_run_results,
    decode_sources,
)
from airflow_provider_databand_dbt.collector.assemble import run_report, step_report
from airflow_provider_databand_dbt.collector.client import CollectorClient
from airflow_provider_databand_dbt.collector.fetch import ArtifactFetcher, Fetched
from airflow_provider_databand_dbt.collector.lineage import add_step_lineage
from airflow_provider_databand_dbt.collector.nodes import freshness_nodes, run_result_nodes
from airflow_provider_databand_dbt.collector.scratch import scratch_directory
from airflow_provider_databand_dbt.collector.steps import StepPlan, manifest_step, plan_step
from airflow_provider_databand_dbt.dbt_cloud.errors import DbtCloudError
from airflow_provider_databand_dbt.model.lineage import RunLineage
from airflow_provider_databand_dbt.model.report import ArtifactMissing, NodeResult, RunReport, StepReport
from airflow_provider_databand_dbt.model.status import TERMINAL_LABELS, status_label

log = logging.getLogger(__name__)

RELATED = ("run_steps", "job", "trigger")
DEFAULT_COLLECT_DEADLINE = 1800.0

Progress = Callable[[str], None]


def collect_run(
    client: CollectorClient,
    account_id: int,
    run_id: int,
    *,
    progress: Optional[Progress] = None,
    deadline: Optional[float] = DEFAULT_COLLECT_DEADLINE,
    run=None,
    lineage: bool = False,
) -> RunReport:
    """Fetch a run, its steps and their artifacts and build its report; to store it, use a ``TrackingService``.

    A run still in progress is reported as it is now (finished steps with their nodes);
    collecting it again later completes it in the store.

    :param client: a ``DbtCloudClient`` (or any ``CollectorClient``) for the run's dbt Cloud host.
    :param account_id: dbt Cloud account id.
    :param run_id: dbt Cloud run id.
    :param progress: called with one human-readable line per step, e.g. for a CLI.
    :param deadline: wall-clock seconds for all requests of this collection (default 1800); once
        it passes, the run fails with a timeout or, during artifacts, the rest are marked missing.
    :param run: the run as already fetched with its ``RELATED`` objects (e.g. from a runs page asked
        with ``include_related``), so it is not fetched again; None (default) fetches it.
    :param lineage: also keep what lineage exporters need (``report.lineage``: adapter type, compiled
        SQL, test details); off by default, so plain tracking decodes none of it.
    :raises DbtCloudError: the run itself could not be read (auth, not found, timeout, server errors).
    """
    if run is not None and run.id != run_id:
        raise ValueError(f"collect_run was given run {run.id} to collect run {run_id}")
    with client.deadline(deadline, f"collecting run {run_id}"):
        return _collect(client, account_id, run_id, progress, run, lineage)


def _collect(
    client: CollectorClient,
    account_id: int,
    run_id: int,
    progress: Optional[Progress],
    fetched: Any = None,
    lineage: bool = False,
) -> RunReport:
    run = fetched if fetched is not None else client.get_run(account_id, run_id, include_related=RELATED)
    project_name = _name_or_none(client.get_project, "project", account_id, run.project_id, run_id)
    environment_name = _name_or_none(client.get_environment, "environment", account_id, run.environment_id, run_id)

    api_steps = sorted(run.run_steps or [], key=lambda step: step.index)
    execute_steps = _execute_steps(run)
    plans = [
        plan_step(step.index, step.name or "", status_label(step.status) in TERMINAL_LABELS, execute_steps)
        for step in api_steps
    ]
    _report_progress(progress, "run %s: %s, %d steps", run.id, run.status_label, len(api_steps))

    with scratch_directory() as scratch:
        fetcher = ArtifactFetcher(client, account_id, run_id, scratch)
        run_lineage = RunLineage() if lineage else None
        steps, artifact_dbt_version = _collect_steps(fetcher, api_steps, plans, progress, run_lineage)

    return run_report(
        run,
        host=client.host,
        base_url=client.base_url,
        account_id=account_id,
        project_name=project_name,
        environment_name=environment_name,
        steps=steps,
        artifact_dbt_version=artifact_dbt_version,
        lineage=run_lineage,
    )


def _collect_steps(
    fetcher: ArtifactFetcher,
    api_steps: list,
    plans: list[StepPlan],
    progress: Optional[Progress],
    lineage: Optional[RunLineage] = None,
) -> tuple[list[StepReport], Optional[str]]:
    """Step reports in index order, and the dbt version the artifacts report; fills ``lineage`` when given."""
    manifest_index = manifest_step(plans)
    manifest: Optional[Manifest] = None
    manifest_missing: Optional[ArtifactMissing] = None
    if manifest_index is not None:
        decode = decode_lineage_manifest if lineage is not None else decode_manifest
        fetched = fetcher.fetch(MANIFEST, manifest_index, decode)
        manifest, manifest_missing = fetched.value, fetched.missing
    dbt_version = manifest.dbt_version if manifest else None
    if lineage is not None and manifest is not None:
        lineage.adapter_type = manifest.adapter_type

    steps = []
    for step, plan in zip(api_steps, plans):
        missing = [manifest_missing] if manifest_missing and plan.index == manifest_index else []
        nodes: list[NodeResult] = []
        if plan.fetches_results:
            nodes, problem, results_version = _step_nodes(fetcher, plan, manifest, lineage)
            missing += [problem] if problem else []
            dbt_version = dbt_version or results_version
            _report_progress(
                progress,
                "step %d/%d %s: %d nodes%s",
                plan.index,
                len(api_steps),
                plan.command,
                len(nodes),
                "".join(f" ({m.artifact} missing: {m.reason})" for m in missing),
            )
        steps.append(step_report(step, plan, nodes, missing))
    return steps, dbt_version


def _step_nodes(
    fetcher: ArtifactFetcher, plan: StepPlan, manifest: Optional[Manifest], lineage: Optional[RunLineage] = None
) -> tuple[list[NodeResult], Optional[ArtifactMissing], Optional[str]]:
    fetched: Fetched[Any]  # Fetched[SourcesResults] or Fetched[RunResults], matching build
    build: Callable[[Any, Manifest | None], list[NodeResult]]
    if plan.results_artifact == SOURCES:
        fetched = fetcher.fetch(SOURCES, plan.index, decode_sources)
        build = freshness_nodes
    else:
        assert plan.results_artifact is not None  # the caller checked plan.fetches_results
        decode = decode_lineage_run_results if lineage is not None else decode_run_results
        fetched = fetcher.fetch(plan.results_artifact, plan.index, decode)
        build = run_result_nodes
    if fetched.value is None:
        return [], fetched.missing, None
    if lineage is not None:
        add_step_lineage(lineage, fetched.value.results, manifest)
    metadata = fetched.value.metadata
    return build(fetched.value.results, manifest), None, metadata.dbt_version if metadata else None


def _execute_steps(run) -> list[str]:
    """The commands this run executed: the trigger's override, else the job's steps."""
    override = run.trigger.steps_override if run.trigger else None
    if override:
        return list(override)
    return list(run.job.execute_steps) if run.job else []


def _name_or_none(getter: Callable, kind: str, account_id: int, object_id: Optional[int], run_id: int) -> Optional[str]:
    """A project or environment name; a failure only costs the name (shown as unknown), never the report."""
    if object_id is None:
        return None
    try:
        return getter(account_id, object_id).name
    except DbtCloudError as exc:
        log.warning("run %s: could not read %s %s, its name will show as unknown: %s", run_id, kind, object_id, exc)
        return None


def _report_progress(progress: Optional[Progress], message: str, *args: Any) -> None:
    log.info(message, *args)
    if progress is not None:
        progress(message % args)
