"""How an emulated run moves through time: queued → running step by step → its final status.

Nothing ticks in the background: a run stores when it was created, how long it queues and
runs, and any forced status; :func:`evaluate` works out what dbt Cloud would show at a
given wall-clock time. That keeps 10,000 runs cheap and makes timing exact for tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from airflow_provider_databand_dbt.model.status import RunStatus
from airflow_provider_databand_dbt.testing.scenarios import Scenario

QUEUED = int(RunStatus.QUEUED)
STARTING = int(RunStatus.STARTING)
RUNNING = int(RunStatus.RUNNING)
SUCCESS = int(RunStatus.SUCCESS)
ERROR = int(RunStatus.ERROR)
CANCELLED = int(RunStatus.CANCELLED)

# Steps whose artifacts exist: a cancelled or unfinished step wrote nothing dbt Cloud keeps.
ARTIFACT_STATUSES = frozenset((SUCCESS, ERROR))


@dataclass(frozen=True)
class PlannedStep:
    """A step a run will go through, with its share of the run's running time.

    :param source_index: the scenario step whose artifacts this step serves (differs from
        ``index`` when ``steps_override`` reordered the commands), None for no artifacts.
    """

    index: int
    name: str
    command: str | None
    status: int
    start_fraction: float
    end_fraction: float
    source_index: int | None


@dataclass(frozen=True)
class TriggerRecord:
    """Why a run started and what the trigger overrode (the ``trigger`` object of a run)."""

    id: int
    cause: str
    created_at: float
    overrides: tuple[tuple[str, Any], ...] = ()
    # Retry from failure (testing/emulator_retries.py): "rerun" and the run this one retries.
    cause_category: str | None = None
    retrying_run_id: int | None = None

    def override(self, key: str) -> Any:
        return dict(self.overrides).get(key)


@dataclass
class RunRecord:
    """One emulated run. Times are epoch seconds; everything visible is derived from them."""

    __slots__ = (
        "id",
        "account_id",
        "job_id",
        "project_id",
        "environment_id",
        "plan",
        "artifacts_root",
        "outcome",
        "status_message",
        "created_at",
        "queued_seconds",
        "running_seconds",
        "forced",
        "forced_at",
        "trigger",
        "git_branch",
        "dbt_version",
        "step_id_base",
        "final",
        "payload",
    )

    id: int
    account_id: int
    job_id: int
    project_id: int
    environment_id: int
    plan: tuple[PlannedStep, ...]
    artifacts_root: Path | None
    outcome: int
    status_message: str | None
    created_at: float
    queued_seconds: float
    running_seconds: float
    forced: int | None
    forced_at: float | None
    trigger: TriggerRecord
    git_branch: str
    dbt_version: str | None
    step_id_base: int
    # (forced, forced_at) -> snapshot, once the run has finished: it will not change again.
    final: tuple[tuple[int | None, float | None], RunSnapshot] | None
    # The finished run's own JSON fields, built once (see emulator_payloads.run_payload).
    payload: tuple[tuple[Any, ...], dict[str, Any]] | None


class StepSnapshot(NamedTuple):
    """A step as shown at one instant (a tuple: runs are evaluated by the thousand)."""

    index: int
    name: str
    command: str | None
    status: int
    started_at: float
    finished_at: float | None
    source_index: int | None


class RunSnapshot(NamedTuple):
    """What dbt Cloud shows for a run at one instant."""

    status: int
    started_at: float | None
    finished_at: float | None
    updated_at: float
    steps: tuple[StepSnapshot, ...]


def build_plan(scenario: Scenario, steps_override: list[str] | None = None) -> tuple[PlannedStep, ...]:
    """The steps of a run of ``scenario``; ``steps_override`` replaces its dbt commands.

    An overriding command that the scenario also runs keeps that step's artifacts and status,
    so ``steps_override=["dbt build"]`` still produces the scenario's results.
    """
    rows: list[tuple[str, str | None, int, float, int | None]] = []
    if steps_override:
        by_command = {s.command: s for s in scenario.steps if s.command}
        for step in scenario.steps:
            if not (step.command or "").startswith("dbt "):
                rows.append((step.name, step.command, step.status, step.duration_seconds, step.index))
        for command in steps_override:
            known = by_command.get(command)
            if known is not None:
                rows.append((known.name, command, known.status, known.duration_seconds, known.index))
            else:
                rows.append((f"Invoke `{command}`", command, SUCCESS, 1.0, None))
    else:
        rows = [(s.name, s.command, s.status, s.duration_seconds, s.index) for s in scenario.steps]
    total = sum(r[3] for r in rows)
    plan = []
    elapsed = 0.0
    for position, (name, command, status, duration, source) in enumerate(rows, start=1):
        # Zero-length scenarios still need an order in time, so every step gets an equal share.
        share = duration / total if total > 0 else 1.0 / len(rows)
        start = elapsed
        elapsed = 1.0 if position == len(rows) else elapsed + share
        plan.append(PlannedStep(position, name, command, status, start, elapsed, source))
    return tuple(plan)


def final_step_status(planned: int, position: int, count: int, outcome: int) -> int:
    """A finished step's status, consistent with the run's final status."""
    if outcome == SUCCESS:
        return SUCCESS
    if position == count - 1 and outcome == CANCELLED:
        return CANCELLED
    return planned


def _finished_steps(run: RunRecord, start: float, end: float, outcome: int) -> tuple[StepSnapshot, ...]:
    span = end - start
    count = len(run.plan)
    failed = any(p.status == ERROR for p in run.plan)
    steps = []
    for position, p in enumerate(run.plan):
        status = final_step_status(p.status, position, count, outcome)
        if outcome == ERROR and not failed and position == count - 1:
            status = ERROR
        steps.append(
            StepSnapshot(
                p.index,
                p.name,
                p.command,
                status,
                start + p.start_fraction * span,
                start + p.end_fraction * span,
                p.source_index,
            )
        )
    return tuple(steps)


def _steps_until(run: RunRecord, start: float, cursor: float, current_status: int) -> tuple[StepSnapshot, ...]:
    """Steps finished by ``cursor`` plus the one in progress then, shown with ``current_status``."""
    span = run.running_seconds
    steps = []
    last = len(run.plan) - 1
    for position, p in enumerate(run.plan):
        step_start = start + p.start_fraction * span
        step_end = start + p.end_fraction * span
        # A run still running has not finished its last step, even a zero-length one.
        if step_end <= cursor and not (current_status == RUNNING and position == last):
            steps.append(StepSnapshot(p.index, p.name, p.command, p.status, step_start, step_end, p.source_index))
            continue
        finished = cursor if current_status != RUNNING else None
        steps.append(StepSnapshot(p.index, p.name, p.command, current_status, step_start, finished, p.source_index))
        break
    return tuple(steps)


def evaluate(run: RunRecord, now: float) -> RunSnapshot:
    """The run as seen at ``now``, following its lifecycle and any forced status."""
    key = (run.forced, run.forced_at)
    if run.final is not None and run.final[0] == key:
        return run.final[1]
    snap = _evaluate(run, now)
    if snap.status >= SUCCESS and snap.finished_at is not None and snap.finished_at <= now:
        run.final = (key, snap)
    return snap


def _evaluate(run: RunRecord, now: float) -> RunSnapshot:
    natural_start = run.created_at + run.queued_seconds
    natural_end = natural_start + run.running_seconds
    forced, at = run.forced, run.forced_at
    if forced is None:
        if now < natural_start:
            return RunSnapshot(QUEUED, None, None, run.created_at, ())
        if now < natural_end:
            return RunSnapshot(RUNNING, natural_start, None, now, _steps_until(run, natural_start, now, RUNNING))
        steps = _finished_steps(run, natural_start, natural_end, run.outcome)
        return RunSnapshot(run.outcome, natural_start, natural_end, natural_end, steps)

    assert at is not None
    if forced in (QUEUED, STARTING):
        return RunSnapshot(forced, None, None, at, ())
    if forced == RUNNING:
        # Held running: steps advance with time but the last one never finishes.
        start = natural_start if at >= natural_start else at
        last_start = start + (run.plan[-1].start_fraction * run.running_seconds if run.plan else 0.0)
        cursor = min(now, last_start)
        return RunSnapshot(RUNNING, start, None, max(at, cursor), _steps_until(run, start, cursor, RUNNING))
    if at < natural_start:  # stopped while still queued
        if forced == CANCELLED:
            return RunSnapshot(CANCELLED, None, at, at, ())
        return RunSnapshot(forced, at, at, at, _finished_steps(run, at, at, forced))
    if at < natural_end:  # stopped while running
        if forced == CANCELLED:
            return RunSnapshot(CANCELLED, natural_start, at, at, _steps_until(run, natural_start, at, CANCELLED))
        return RunSnapshot(forced, natural_start, at, at, _finished_steps(run, natural_start, at, forced))
    steps = _finished_steps(run, natural_start, natural_end, forced)
    return RunSnapshot(forced, natural_start, natural_end, max(at, natural_end), steps)
