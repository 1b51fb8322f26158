"""Collect one dbt Cloud run into a :class:`RunReport` and store it: the heart of every tracker.

Requests per run: the run (with steps, job and trigger), its project, its environment, one
results artifact per finished step that has one, and the manifest once. Problems with the run
itself raise typed :mod:`~airflow_provider_databand_dbt.dbt_cloud.errors`; problems with names
or artifacts are logged and recorded on the report, never raised.
"""
from __future__ import annotations

import logging
from typing import Any, Callable, Optional, Union

from airflow_provider_databand_dbt.collector.artifacts import (
    MANIFEST,
    SOURCES,
    Manifest,
    decode_manifest,
    decode_run_results,
    decode_sources,
)
from airflow_provider_databand_dbt.collector.assemble import run_report, step_report
from airflow_provider_databand_dbt.collector.fetch import ArtifactFetcher, Fetched
from airflow_provider_databand_dbt.collector.nodes import freshness_nodes, run_result_nodes
from airflow_provider_databand_dbt.model.report import ArtifactMissing, NodeResult, RunReport, StepReport
from airflow_provider_databand_dbt.collector.scratch import scratch_directory
from airflow_provider_databand_dbt.collector.steps import StepPlan, manifest_step, plan_step
from airflow_provider_databand_dbt.dbt_cloud.errors import DbtCloudError
from airflow_provider_databand_dbt.model.status import TERMINAL_LABELS, status_label
from airflow_provider_databand_dbt.dbt_cloud.urls import DEFAULT_API_URL, validate_id, validate_token
from airflow_provider_databand_dbt.model.source import TrackingSource

log = logging.getLogger(__name__)

RELATED = ("run_steps", "job", "trigger")
DEFAULT_COLLECT_DEADLINE = 1800.0

Progress = Callable[[str], None]


def collect_run(
    client,
    account_id: int,
    run_id: int,
    *,
    store=None,
    source: Optional[TrackingSource] = None,
    progress: Optional[Progress] = None,
    deadline: Optional[float] = DEFAULT_COLLECT_DEADLINE,
) -> RunReport:
    """Fetch a run, its steps and their artifacts, build its report and (optionally) store it.

    A run still in progress is reported as it is now (finished steps with their nodes);
    collecting it again later completes it in the store.

    :param client: a ``DbtCloudClient`` for the run's dbt Cloud host.
    :param account_id: dbt Cloud account id.
    :param run_id: dbt Cloud run id.
    :param store: a ``TrackingStore`` to save the report in, or None to only return it.
    :param source: who is tracking (recorded by the store); defaults to ``TrackingSource(kind="api")``.
    :param progress: called with one human-readable line per step, e.g. for a CLI.
    :param deadline: wall-clock seconds for all requests of this collection (default 1800); once
        it passes, the run fails with a timeout or, during artifacts, the rest are marked missing.
    :raises DbtCloudError: the run itself could not be read (auth, not found, timeout, server errors).
    """
    with client.deadline(deadline, f"collecting run {run_id}"):
        return _collect(client, account_id, run_id, store, source, progress)


def _collect(client, account_id: int, run_id: int, store, source, progress) -> RunReport:
    run = client.get_run(account_id, run_id, include_related=RELATED)
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
        steps, artifact_dbt_version = _collect_steps(fetcher, api_steps, plans, progress)

    report = run_report(
        run,
        host=client.host,
        base_url=client.base_url,
        account_id=account_id,
        project_name=project_name,
        environment_name=environment_name,
        steps=steps,
        artifact_dbt_version=artifact_dbt_version,
    )
    if store is not None:
        outcome = store.save_report(report, source or TrackingSource(kind="api"))
        log.info("run %s stored (%s)", run_id, getattr(outcome, "action", outcome))
    return report


def _collect_steps(
    fetcher: ArtifactFetcher, api_steps: list, plans: list[StepPlan], progress: Optional[Progress]
) -> tuple[list[StepReport], Optional[str]]:
    """Step reports in index order, and the dbt version the artifacts report."""
    manifest_index = manifest_step(plans)
    manifest: Optional[Manifest] = None
    manifest_missing: Optional[ArtifactMissing] = None
    if manifest_index is not None:
        fetched = fetcher.fetch(MANIFEST, manifest_index, decode_manifest)
        manifest, manifest_missing = fetched.value, fetched.missing
    dbt_version = manifest.dbt_version if manifest else None

    steps = []
    for step, plan in zip(api_steps, plans):
        missing = [manifest_missing] if manifest_missing and plan.index == manifest_index else []
        nodes: list[NodeResult] = []
        if plan.fetches_results:
            nodes, problem, results_version = _step_nodes(fetcher, plan, manifest)
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
    fetcher: ArtifactFetcher, plan: StepPlan, manifest: Optional[Manifest]
) -> tuple[list[NodeResult], Optional[ArtifactMissing], Optional[str]]:
    fetched: Fetched[Any]  # Fetched[SourcesResults] or Fetched[RunResults], matching build
    build: Callable[[Any, Manifest | None], list[NodeResult]]
    if plan.results_artifact == SOURCES:
        fetched = fetcher.fetch(SOURCES, plan.index, decode_sources)
        build = freshness_nodes
    else:
        assert plan.results_artifact is not None  # the caller checked plan.fetches_results
        fetched = fetcher.fetch(plan.results_artifact, plan.index, decode_run_results)
        build = run_result_nodes
    if fetched.value is None:
        return [], fetched.missing, None
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
        log.warning(
            "run %s: could not read %s %s, its name will show as unknown: %s", run_id, kind, object_id, exc
        )
        return None


def _report_progress(progress: Optional[Progress], message: str, *args: Any) -> None:
    log.info(message, *args)
    if progress is not None:
        progress(message % args)


def collect_data_from_dbt_cloud(
    dbt_cloud_account_id: Union[int, str],
    dbt_cloud_api_token: str,
    dbt_job_run_id: Union[int, str],
    dbt_api_url: str = DEFAULT_API_URL,
    *,
    store: Any = True,
    tracking_url: Optional[str] = None,
    source: Optional[TrackingSource] = None,
    client_options: Optional[dict[str, Any]] = None,
    progress: Optional[Progress] = None,
    collect_deadline: Optional[float] = DEFAULT_COLLECT_DEADLINE,
) -> RunReport:
    """Collect one dbt Cloud run, store it in the tracking store and return its report.

    Drop-in replacement for the Databand SDK call of the same name (same first three parameters).

    :param dbt_cloud_account_id: dbt Cloud account id (int or string of digits).
    :param dbt_cloud_api_token: a dbt Cloud personal access or service token; never logged or stored.
    :param dbt_job_run_id: the run id (int or string of digits).
    :param dbt_api_url: dbt Cloud host or access URL, e.g. ``emea.dbt.com`` or ``https://ab123.us1.dbt.com``.
    :param store: True for the tracking store at ``tracking_url`` (default store when None),
        a ``TrackingStore`` instance to use as is, or False to only return the report.
    :param tracking_url: SQLAlchemy URL of the tracking store, when ``store`` is True.
    :param source: who is tracking; defaults to ``TrackingSource(kind="api")``.
    :param client_options: extra keyword arguments for ``DbtCloudClient`` (timeout, retry,
        request_deadline, max_response_bytes, max_artifact_bytes...).
    :param progress: called with one line per step, e.g. for a CLI.
    :param collect_deadline: wall-clock seconds for the whole collection (default 1800; None: no limit).
    :raises DbtCloudConfigError: non-numeric ids, an empty token or a malformed URL.
    :raises DbtCloudError: the run could not be read.
    """
    from airflow_provider_databand_dbt.dbt_cloud.client import DbtCloudClient

    account_id = validate_id(dbt_cloud_account_id, "dbt_cloud_account_id")
    run_id = validate_id(dbt_job_run_id, "dbt_job_run_id")
    token = validate_token(dbt_cloud_api_token)
    with DbtCloudClient(token, dbt_api_url, **(client_options or {})) as client:
        tracking_store, owned = _open_store(store, tracking_url)
        try:
            return collect_run(
                client,
                account_id,
                run_id,
                store=tracking_store,
                source=source,
                progress=progress,
                deadline=collect_deadline,
            )
        finally:
            if owned:
                tracking_store.close()


def _open_store(store: Any, tracking_url: Optional[str]):
    """``(store or None, whether we opened it and must close it)``."""
    if store is True:
        from airflow_provider_databand_dbt.tracking.store import TrackingStore

        return TrackingStore(tracking_url), True
    if store is False or store is None:
        return None, False
    return store, False
