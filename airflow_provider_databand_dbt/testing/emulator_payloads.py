"""JSON objects the emulator answers with, shaped like dbt Cloud's (see docs/dbt_cloud_api.md)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from airflow_provider_databand_dbt.testing.emulator_runs import (
    ARTIFACT_STATUSES,
    CANCELLED,
    ERROR,
    RUNNING,
    SUCCESS,
    RunRecord,
    RunSnapshot,
    StepSnapshot,
)
from airflow_provider_databand_dbt.testing.scenarios import Scenario, list_step_artifacts

_HUMANIZED = {1: "Queued", 2: "Starting", 3: "Running", 10: "Success", 20: "Error", 30: "Cancelled"}


@dataclass
class AccountRecord:
    id: int
    name: str
    created_at: float


@dataclass
class ProjectRecord:
    account_id: int
    id: int
    name: str
    created_at: float


@dataclass
class EnvironmentRecord:
    account_id: int
    id: int
    project_id: int
    name: str
    dbt_version: str
    created_at: float


@dataclass
class JobRecord:
    """A job; ``outcome`` (set by ``set_run_outcome``) overrides the scenario's final status."""

    account_id: int
    id: int
    name: str
    project_id: int
    environment_id: int
    scenario: Scenario
    created_at: float
    outcome: int | None = None


def format_time(ts: float | None) -> str | None:
    """dbt Cloud's timestamp format: ``2026-11-25 10:00:00.123456+00:00``."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, timezone.utc).isoformat(sep=" ", timespec="microseconds")


def format_duration(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    whole = max(int(seconds), 0)
    return f"{whole // 3600:02d}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


def _span(start: float | None, end: float | None, now: float) -> float | None:
    if start is None:
        return None
    return (end if end is not None else now) - start


def account_payload(account: AccountRecord) -> dict[str, Any]:
    return {
        "id": account.id,
        "name": account.name,
        "state": 1,
        "plan": "enterprise",
        "pending_cancel": False,
        "run_slots": 5,
        "developer_seats": 10,
        "read_only_seats": 20,
        "locked": False,
        "docs_job_id": None,
        "freshness_job_id": None,
        "created_at": format_time(account.created_at),
        "updated_at": format_time(account.created_at),
    }


def project_payload(project: ProjectRecord) -> dict[str, Any]:
    return {
        "id": project.id,
        "account_id": project.account_id,
        "name": project.name,
        "description": "",
        "dbt_project_subdirectory": None,
        "connection_id": None,
        "repository_id": None,
        "semantic_layer_config_id": None,
        "state": 1,
        "created_at": format_time(project.created_at),
        "updated_at": format_time(project.created_at),
    }


def environment_payload(env: EnvironmentRecord) -> dict[str, Any]:
    return {
        "id": env.id,
        "account_id": env.account_id,
        "project_id": env.project_id,
        "name": env.name,
        "type": "deployment",
        "deployment_type": "production",
        "dbt_version": env.dbt_version,
        "use_custom_branch": False,
        "custom_branch": None,
        "credentials_id": None,
        "state": 1,
        "created_at": format_time(env.created_at),
        "updated_at": format_time(env.created_at),
    }


def job_payload(job: JobRecord) -> dict[str, Any]:
    return {
        "id": job.id,
        "account_id": job.account_id,
        "project_id": job.project_id,
        "environment_id": job.environment_id,
        "name": job.name,
        "description": "",
        "execute_steps": job.scenario.execute_steps,
        "dbt_version": None,
        "state": 1,
        "deactivated": False,
        "job_type": "scheduled",
        "generate_docs": False,
        "run_generate_sources": any((s.command or "").startswith("dbt source") for s in job.scenario.steps),
        "triggers": {"github_webhook": False, "schedule": True, "git_provider_webhook": False},
        "settings": {"threads": 4, "target_name": "default"},
        "created_at": format_time(job.created_at),
        "updated_at": format_time(job.created_at),
    }


def trigger_payload(run: RunRecord) -> dict[str, Any]:
    trigger = run.trigger
    return {
        "id": trigger.id,
        "cause": trigger.cause,
        "job_definition_id": run.job_id,
        "git_branch": trigger.override("git_branch"),
        "git_sha": trigger.override("git_sha"),
        "azure_pull_request_id": None,
        "github_pull_request_id": None,
        "gitlab_merge_request_id": None,
        "schema_override": trigger.override("schema_override"),
        "dbt_version_override": trigger.override("dbt_version_override"),
        "threads_override": trigger.override("threads_override"),
        "target_name_override": trigger.override("target_name_override"),
        "generate_docs_override": trigger.override("generate_docs_override"),
        "timeout_seconds_override": trigger.override("timeout_seconds_override"),
        "steps_override": trigger.override("steps_override"),
        "cause_category": trigger.cause_category,
        "created_at": format_time(trigger.created_at),
    }


def step_logs(step: StepSnapshot, dbt_version: str | None) -> str:
    """A short log text, so clients that show step logs have something real-looking to show."""
    lines = [step.name]
    if step.command:
        lines.append(f"Running with dbt={dbt_version or 'unknown'}")
    if step.status == RUNNING:
        lines.append("In progress...")
    else:
        lines.append(f"Finished with status {_HUMANIZED.get(step.status, step.status)}.")
    return "\n".join(lines) + "\n"


def step_payload(run: RunRecord, step: StepSnapshot, now: float) -> dict[str, Any]:
    duration = format_duration(_span(step.started_at, step.finished_at, now))
    return {
        "id": run.step_id_base + step.index,
        "run_id": run.id,
        "account_id": run.account_id,
        "index": step.index,
        "name": step.name,
        "status": step.status,
        "status_humanized": _HUMANIZED.get(step.status, "Unknown"),
        "logs": step_logs(step, run.dbt_version),
        "debug_logs": "",
        "log_level": "info",
        "created_at": format_time(step.started_at),
        "updated_at": format_time(step.finished_at if step.finished_at is not None else now),
        "started_at": format_time(step.started_at),
        "finished_at": format_time(step.finished_at),
        "duration": duration,
        "duration_humanized": duration,
    }


def run_payload(
    run: RunRecord,
    snap: RunSnapshot,
    *,
    now: float,
    base_url: str,
    related: frozenset[str] = frozenset(),
    job: JobRecord | None = None,
    environment: EnvironmentRecord | None = None,
) -> dict[str, Any]:
    """The run object; ``related`` names the optional objects to embed (run_steps, job, trigger...)."""
    data = _base_run_payload(run, snap, now, base_url)
    if "trigger" in related:
        data["trigger"] = trigger_payload(run)
    if "job" in related and job is not None:
        data["job"] = job_payload(job)
    if "environment" in related and environment is not None:
        data["environment"] = environment_payload(environment)
    if "run_steps" in related:
        data["run_steps"] = [step_payload(run, step, now) for step in snap.steps]
    return data


def _base_run_payload(run: RunRecord, snap: RunSnapshot, now: float, base_url: str) -> dict[str, Any]:
    # A finished run's own fields never change again (until someone forces its status), and
    # listing 10,000 runs would otherwise rebuild them on every page.
    final = snap.finished_at is not None and snap.status >= SUCCESS
    version = (run.forced, run.forced_at, base_url)
    if final and run.payload is not None and run.payload[0] == version:
        return dict(run.payload[1])
    data = _build_run_payload(run, snap, now, base_url)
    if final:
        run.payload = (version, data)
        return dict(data)
    return data


def _build_run_payload(run: RunRecord, snap: RunSnapshot, now: float, base_url: str) -> dict[str, Any]:
    status = snap.status
    complete = status >= SUCCESS
    sha = run.trigger.override("git_sha") or hashlib.sha1(str(run.id).encode()).hexdigest()
    total = _span(run.created_at, snap.finished_at, now)
    produced = {name for step in snap.steps for name in available_artifacts(run, snap, step.index)}
    data: dict[str, Any] = {
        "id": run.id,
        "trigger_id": run.trigger.id,
        "account_id": run.account_id,
        "environment_id": run.environment_id,
        "project_id": run.project_id,
        "job_definition_id": run.job_id,
        "job_id": run.job_id,
        "status": status,
        "status_humanized": _HUMANIZED.get(status, "Unknown"),
        "status_message": run_status_message(run, status),
        "dbt_version": run.dbt_version,
        "git_branch": run.trigger.override("git_branch") or run.git_branch,
        "git_sha": sha,
        "created_at": format_time(run.created_at),
        "updated_at": format_time(max(snap.updated_at, run.created_at)),
        "dequeued_at": format_time(snap.started_at),
        "started_at": format_time(snap.started_at),
        "finished_at": format_time(snap.finished_at),
        "last_checked_at": None,
        "last_heartbeat_at": None,
        "should_start_at": None,
        "in_progress": not complete,
        "is_complete": complete,
        "is_success": status == SUCCESS,
        "is_error": status == ERROR,
        "is_cancelled": status == CANCELLED,
        "is_running": status == RUNNING,
        "duration": format_duration(total),
        "queued_duration": format_duration(_span(run.created_at, snap.started_at or snap.finished_at, now)),
        "run_duration": format_duration(_span(snap.started_at, snap.finished_at, now)),
        "duration_humanized": format_duration(total),
        "href": f"{base_url}/deploy/{run.account_id}/projects/{run.project_id}/runs/{run.id}/",
        "artifacts_saved": complete and bool(produced),
        "has_docs_generated": "catalog.json" in produced,
        "has_sources_generated": "sources.json" in produced,
        "can_retry": status == ERROR,
        "retrying_run_id": run.trigger.retrying_run_id,
    }
    return data


def run_status_message(run: RunRecord, status: int) -> str | None:
    """The message dbt Cloud shows for a run in ``status`` (None while it has none)."""
    if status == ERROR:
        return run.status_message or "Job run failed."
    if status == CANCELLED:
        return "Cancelled by user."
    return None


def available_artifacts(run: RunRecord, snap: RunSnapshot, step_index: int) -> list[str]:
    """Artifact names a finished step of this run serves (none for unfinished or cancelled steps)."""
    for step in snap.steps:
        if step.index == step_index:
            if step.status not in ARTIFACT_STATUSES or step.finished_at is None or step.source_index is None:
                return []
            return list_step_artifacts(run.artifacts_root, step.source_index)
    return []
