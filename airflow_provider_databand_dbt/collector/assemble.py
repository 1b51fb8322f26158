"""Build StepReport and RunReport objects from the dbt Cloud run and the nodes found in its artifacts."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Optional

from airflow_provider_databand_dbt.collector.retry_link import retry_of
from airflow_provider_databand_dbt.collector.steps import StepPlan, bounded_text
from airflow_provider_databand_dbt.model.lineage import RunLineage
from airflow_provider_databand_dbt.model.report import ArtifactMissing, NodeResult, RunReport, StepReport
from airflow_provider_databand_dbt.model.status import status_label


def step_report(step, plan: StepPlan, nodes: list[NodeResult], missing: list[ArtifactMissing]) -> StepReport:
    """One run step with its nodes.

    :param step: the ``ApiRunStep`` as dbt Cloud returned it.
    :param plan: what we read from its name (command, results artifact).
    :param nodes: node results from its artifacts.
    :param missing: artifacts we expected but could not use.
    """
    return StepReport(
        index=step.index,
        name=bounded_text(step.name or f"step {step.index}"),
        command=plan.command,
        status=status_label(step.status),
        started_at=step.started_at,
        finished_at=step.finished_at,
        duration_seconds=duration_seconds(step.started_at, step.finished_at),
        artifacts_missing=missing,
        nodes=nodes,
    )


def run_report(
    run,
    *,
    host: str,
    base_url: str,
    account_id: int,
    project_name: Optional[str],
    environment_name: Optional[str],
    steps: list[StepReport],
    artifact_dbt_version: Optional[str] = None,
    lineage: Optional[RunLineage] = None,
) -> RunReport:
    """The whole run, keyed by (host, account_id, run id).

    :param run: the ``ApiRun`` fetched with its job, trigger and steps.
    :param host: the dbt Cloud host the run lives on (part of the tracking key).
    :param base_url: ``scheme://host[:port]``, for the run URL when dbt Cloud sent no ``href``.
    :param artifact_dbt_version: the dbt version the artifacts say, used when the run does not.
    :param lineage: what lineage sinks asked the collector to keep, or None.
    """
    job = run.job
    trigger = run.trigger
    return RunReport(
        host=host,
        # The ids asked for: the client refuses an answer about another run or account.
        account_id=account_id,
        run_id=run.id,
        job_id=run.job_definition_id,
        job_name=job.name if job else None,
        project_id=run.project_id,
        project_name=project_name,
        environment_id=run.environment_id,
        environment_name=environment_name,
        status=run.status_label,
        status_message=run.status_message,
        trigger_cause=trigger.cause if trigger else None,
        git_branch=run.git_branch,
        git_sha=run.git_sha,
        dbt_version=run.dbt_version or artifact_dbt_version,
        created_at=run.created_at,
        started_at=run.started_at,
        finished_at=run.finished_at,
        duration_seconds=duration_seconds(run.started_at, run.finished_at),
        url=_web_url(run.href) or run_url(base_url, account_id, run.project_id, run.id),
        retry_of_run_id=retry_of(run),
        steps=steps,
        collected_at=datetime.now(timezone.utc),
        lineage=lineage,
    )


def _web_url(href: str | None) -> str | None:
    # Captured answers carry a redacted or empty ``href``; only a web address is a link.
    return href if href and href.startswith(("https://", "http://")) else None


def run_url(base_url: str, account_id: int, project_id: Optional[int], run_id: int) -> str:
    """The run's page in the dbt Cloud UI, as dbt Cloud builds it."""
    if project_id is None:
        return f"{base_url}/deploy/{account_id}/runs/{run_id}/"
    return f"{base_url}/deploy/{account_id}/projects/{project_id}/runs/{run_id}/"


def duration_seconds(started_at: Optional[datetime], finished_at: Optional[datetime]) -> Optional[float]:
    if started_at is None or finished_at is None:
        return None
    return max((finished_at - started_at).total_seconds(), 0.0)
