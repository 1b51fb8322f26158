"""Retry from failure in the emulator: POST runs/{id}/retry/ and POST jobs/{id}/rerun/.

As the v2 spec describes: only a job's latest run, and only when it failed, can be retried
(``RETRY_NOT_LATEST_RUN``, ``RETRY_NOT_FAILED_RUN``); the new run carries ``retrying_run_id`` (the run it
retries) and a trigger with ``cause_category: "rerun"``. ``jobs/{id}/rerun/`` retries the job's latest
run when it failed and otherwise starts a normal run. The spec gives no cause text for retries; ours is
``Rerun from failure of run #N``.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from airflow_provider_databand_dbt.model.status import RunStatus
from airflow_provider_databand_dbt.testing.emulator_state import EmulatorState

RERUN = "rerun"


def retry_refusal(state: EmulatorState, account_id: int, run_id: int) -> str | None:
    """The spec's ``retry_not_supported_reason`` for the run now, None when it can be retried."""
    with state.lock:
        run, snap, _ = state.snapshot(account_id, run_id)
        latest = state.job_runs.get(run.job_id, [run.id])[-1]
    if snap.status != RunStatus.ERROR:
        return "RETRY_NOT_FAILED_RUN"
    if latest != run.id:
        return "RETRY_NOT_LATEST_RUN"
    return None


def retry_run(state: EmulatorState, account_id: int, run_id: int, body: dict[str, Any]) -> int:
    """Start the retry of a failed run; ValueError (a 400) names the reason when it cannot be retried."""
    reason = retry_refusal(state, account_id, run_id)
    if reason is not None:
        raise ValueError(f"run {run_id} cannot be retried: {reason}")
    failed = state.snapshot(account_id, run_id)[0]
    body = {**body, "cause": body.get("cause") or f"Rerun from failure of run #{run_id}"}
    new_id = state.trigger(account_id, failed.job_id, body, default_cause=None)
    with state.lock:
        retry = state.runs[new_id]
        retry.trigger = dataclasses.replace(retry.trigger, cause_category=RERUN, retrying_run_id=run_id)
        retry.payload = None  # built before the link was set
    return new_id


def rerun_job(state: EmulatorState, account_id: int, job_id: int, body: dict[str, Any]) -> int:
    """``jobs/{id}/rerun/``: a retry of the job's latest run when it failed, else a normal run."""
    with state.lock:
        state.job(account_id, job_id)
        latest = (state.job_runs.get(job_id) or [None])[-1]
    if latest is not None and retry_refusal(state, account_id, latest) is None:
        return retry_run(state, account_id, latest, body)
    return state.trigger(account_id, job_id, {**body, "cause": body.get("cause") or "Rerun"}, default_cause=None)
