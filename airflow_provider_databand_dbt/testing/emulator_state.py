"""Everything the emulated dbt Cloud knows: accounts, tokens, projects, jobs and runs.

One lock guards it all; every read evaluates runs at the current wall-clock time. Run ids
are kept sorted per account (``account_runs``) and per job (``job_runs``) for listing.
"""

from __future__ import annotations

import bisect
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from airflow_provider_databand_dbt.testing.emulator_payloads import (
    AccountRecord,
    EnvironmentRecord,
    JobRecord,
    ProjectRecord,
)
from airflow_provider_databand_dbt.testing.emulator_runs import (
    CANCELLED,
    QUEUED,
    RUNNING,
    STARTING,
    RunRecord,
    RunSnapshot,
    TriggerRecord,
    build_plan,
    evaluate,
)
from airflow_provider_databand_dbt.testing.scenarios import ScenarioLibrary, status_code

FIRST_RUN_ID = 70403110000101
# Ids below this are left to seeded runs and explicit ids; the others are numbered from the wall clock.
FRESH_RUN_IDS_FROM = FIRST_RUN_ID + 100_000


def fresh_run_id_base(now: float) -> int:
    """First id for runs added or triggered without one: one more per millisecond of wall-clock time.

    Every emulator start used to count from the same id, so two demos or tests writing into one store
    tracked different runs under the same (host, account, run id) key. Later starts now begin above
    earlier ones (unless one start made more runs than milliseconds passed before the next started).
    """
    return FRESH_RUN_IDS_FROM + int(now * 1000)


FIRST_STEP_ID = 190000000
FINISHED_QUEUE_SECONDS = 3.0
# What the trigger endpoint keeps from the request body (the rest is ignored, like dbt Cloud).
TRIGGER_OVERRIDES = (
    "git_branch",
    "git_sha",
    "schema_override",
    "dbt_version_override",
    "threads_override",
    "target_name_override",
    "generate_docs_override",
    "timeout_seconds_override",
    "steps_override",
)


class NotFound(LookupError):
    """The object does not exist in that account (answered as 404)."""


def to_epoch(value: datetime | str | float | int | None, default: float) -> float:
    """Epoch seconds from a datetime (naive = UTC), an ISO / dbt Cloud timestamp string or a number."""
    if value is None:
        return default
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        text = value.strip().replace("Z", "+00:00")
        value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.timestamp()


class EmulatorState:
    """The emulator's data. Methods raise ``NotFound`` / ``ValueError`` for bad input.

    :param scenarios: where scenario step layouts and artifacts come from.
    :param clock: wall-clock time source (epoch seconds).
    """

    def __init__(self, scenarios: ScenarioLibrary, clock: Callable[[], float] = time.time) -> None:
        self.scenarios = scenarios
        self.clock = clock
        self.lock = threading.RLock()
        self.queued_seconds = 1.0
        self.running_seconds = 3.0
        self._tokens: dict[str, set[int]] = {}
        self.accounts: dict[int, AccountRecord] = {}
        self.projects: dict[tuple[int, int], ProjectRecord] = {}
        self.environments: dict[tuple[int, int], EnvironmentRecord] = {}
        self.jobs: dict[int, JobRecord] = {}
        self.runs: dict[int, RunRecord] = {}
        self.account_runs: dict[int, list[int]] = {}
        self.job_runs: dict[int, list[int]] = {}
        self._next_run_id = fresh_run_id_base(time.time())
        self._next_step_id = FIRST_STEP_ID
        self._next_trigger_id = 1
        # What the runs list embeds on include_related; None: everything get_run embeds. dbt Cloud's spec
        # documents trigger, job and debug_logs for the list; tests narrow it to see the collector's fallback.
        self.list_related: frozenset[str] | None = None

    # ------------------------------------------------------------------ auth

    def accounts_for_token(self, token: str) -> frozenset[int] | None:
        """Accounts the token may read, or None when the token is unknown."""
        with self.lock:
            found = self._tokens.get(token)
            return frozenset(found) if found is not None else None

    # ------------------------------------------------------------------ setup

    def add_account(self, account_id: int, token: str, name: str | None = None) -> AccountRecord:
        if not token:
            raise ValueError("an account needs a non-empty token")
        with self.lock:
            account = self.accounts.get(account_id)
            if account is None:
                account = AccountRecord(int(account_id), name or f"Account {account_id}", self.clock())
                self.accounts[account.id] = account
            elif name:
                account.name = name
            self._tokens.setdefault(token, set()).add(account.id)
            return account

    def add_project(self, account_id: int, project_id: int, name: str | None = None) -> ProjectRecord:
        with self.lock:
            self._account(account_id)
            project = ProjectRecord(account_id, int(project_id), name or f"Project {project_id}", self.clock())
            self.projects[(account_id, project.id)] = project
            return project

    def add_environment(
        self,
        account_id: int,
        environment_id: int,
        project_id: int,
        name: str | None = None,
        dbt_version: str = "1.10.0-latest",
    ) -> EnvironmentRecord:
        with self.lock:
            if (account_id, project_id) not in self.projects:
                self.add_project(account_id, project_id)
            env = EnvironmentRecord(
                account_id,
                int(environment_id),
                int(project_id),
                name or f"Environment {environment_id}",
                dbt_version,
                self.clock(),
            )
            self.environments[(account_id, env.id)] = env
            return env

    def add_job(
        self,
        account_id: int,
        job_id: int,
        name: str,
        project_id: int | None = None,
        environment_id: int | None = None,
        scenario: str = "healthy_run",
    ) -> JobRecord:
        """Add a job; a missing project or environment is created with a generic name."""
        with self.lock:
            self._account(account_id)
            if project_id is None:
                project_id = min((p for a, p in self.projects if a == account_id), default=10)
            if environment_id is None:
                environment_id = min(
                    (
                        e.id
                        for e in self.environments.values()
                        if e.account_id == account_id and e.project_id == project_id
                    ),
                    default=20,
                )
            if (account_id, environment_id) not in self.environments:
                self.add_environment(account_id, environment_id, project_id)
            elif (account_id, project_id) not in self.projects:
                self.add_project(account_id, project_id)
            job = JobRecord(
                account_id,
                int(job_id),
                name,
                int(project_id),
                int(environment_id),
                self.scenarios.get(scenario),
                self.clock(),
            )
            existing = self.jobs.get(job.id)
            if existing is not None and existing.account_id != job.account_id:
                raise ValueError(f"job {job_id} already exists in account {existing.account_id}")
            self.jobs[job.id] = job
            return job

    def set_lifecycle(self, queued_seconds: float, running_seconds: float) -> None:
        if queued_seconds < 0 or running_seconds < 0:
            raise ValueError("lifecycle phases cannot be negative")
        with self.lock:
            self.queued_seconds = float(queued_seconds)
            self.running_seconds = float(running_seconds)

    def set_run_outcome(self, job_id: int, status: int | str | None) -> None:
        """Final status of the job's runs triggered from now on (None: the scenario's)."""
        with self.lock:
            self._job(None, job_id).outcome = None if status is None else _final_status(status)

    # ------------------------------------------------------------------ runs

    def add_runs(
        self,
        account_id: int,
        job_id: int,
        count: int = 1,
        *,
        run_id: int | None = None,
        status: int | str | None = "success",
        scenario: str | None = None,
        created_at: datetime | str | float | None = None,
        artifacts_dir: str | Path | None = None,
        interval_seconds: float = 60.0,
        cause: str = "Triggered by schedule",
        git_branch: str = "main",
        steps_override: list[str] | None = None,
    ) -> list[int]:
        """Add ``count`` runs of a job, oldest first, ``interval_seconds`` apart; return their ids.

        Finished statuses (or None: the scenario's) make finished runs, created at ``created_at``
        or just long enough ago to have finished by now; ``queued``/``running`` start the
        lifecycle now.
        """
        code = None if status is None else status_code(status)
        if count < 1:
            raise ValueError("count must be at least 1")
        with self.lock:
            job = self._job(account_id, job_id)
            source = self.scenarios.get(scenario) if scenario else job.scenario
            plan = build_plan(source, steps_override)
            root = Path(artifacts_dir) if artifacts_dir is not None else source.artifacts_root
            env = self.environments.get((account_id, job.environment_id))
            now = self.clock()
            if code in (QUEUED, STARTING, RUNNING):
                queued, running = self.queued_seconds, self.running_seconds
                shift = -queued if code == RUNNING else 0.0
                first = to_epoch(created_at, now + shift)
            else:
                queued, running = FINISHED_QUEUE_SECONDS, max(source.total_seconds, 1.0)
                span = (count - 1) * interval_seconds + queued + running
                first = to_epoch(created_at, now - span - 1.0)
            if run_id is not None and count == 1 and int(run_id) in self.runs:
                raise ValueError(f"run {run_id} already exists")
            ids = []
            for i in range(count):
                # Active runs all start their lifecycle now; finished ones are spread over time.
                created = first if code is not None and code < 10 else first + i * interval_seconds
                new_id = int(run_id) + i if run_id is not None else self._next_run_id
                if new_id in self.runs:
                    raise ValueError(f"run {new_id} already exists")
                outcome = (
                    code
                    if code is not None and code >= 10 and code != CANCELLED
                    else (job.outcome or source.run_status)
                )
                run = RunRecord(
                    new_id,
                    account_id,
                    job.id,
                    job.project_id,
                    job.environment_id,
                    plan,
                    root,
                    outcome,
                    source.status_message,
                    created,
                    queued,
                    running,
                    None,
                    None,
                    TriggerRecord(self._take_trigger_id(), cause, created),
                    git_branch,
                    env.dbt_version if env else source.dbt_version,
                    self._take_step_ids(len(plan)),
                    None,
                    None,
                )
                if code == CANCELLED:  # cancelled half-way through its steps
                    run.forced, run.forced_at = CANCELLED, created + queued + running / 2
                self._insert(run)
                ids.append(new_id)
            return ids

    def trigger(self, account_id: int, job_id: int, body: dict[str, Any], default_cause: str) -> int:
        """Start a run the way POST jobs/{id}/run/ does; ``body`` is the request's JSON."""
        cause = body.get("cause", default_cause)
        if not isinstance(cause, str) or not cause.strip():
            raise ValueError("cause is required: a short text saying why the job runs")
        if len(cause) > 255:
            raise ValueError("cause must be at most 255 characters")
        steps_override = body.get("steps_override")
        if steps_override is not None and (
            not isinstance(steps_override, list) or not all(isinstance(s, str) for s in steps_override)
        ):
            raise ValueError("steps_override must be a list of dbt commands")
        overrides = tuple((k, body[k]) for k in TRIGGER_OVERRIDES if body.get(k) is not None)
        with self.lock:
            job = self._job(account_id, job_id)
            now = self.clock()
            plan = build_plan(job.scenario, steps_override)
            env = self.environments.get((account_id, job.environment_id))
            run = RunRecord(
                self._next_run_id,
                account_id,
                job.id,
                job.project_id,
                job.environment_id,
                plan,
                job.scenario.artifacts_root,
                job.outcome or job.scenario.run_status,
                job.scenario.status_message,
                now,
                self.queued_seconds,
                self.running_seconds,
                None,
                None,
                TriggerRecord(self._take_trigger_id(), cause, now, overrides),
                "main",
                body.get("dbt_version_override") or (env.dbt_version if env else None),
                self._take_step_ids(len(plan)),
                None,
                None,
            )
            self._insert(run)
            return run.id

    def cancel(self, account_id: int, run_id: int) -> None:
        """Cancel a run that has not finished; a finished run is left as it is (like dbt Cloud)."""
        with self.lock:
            run = self._run(account_id, run_id)
            now = self.clock()
            if evaluate(run, now).status < 10:
                run.forced, run.forced_at = CANCELLED, now

    def set_run_status(self, run_id: int, status: int | str) -> None:
        """Force a run's status from now on (queued/running hold it there until changed again)."""
        code = status_code(status)
        with self.lock:
            run = self._run(None, run_id)
            run.forced, run.forced_at = code, self.clock()

    # ------------------------------------------------------------------ reads

    def snapshot(self, account_id: int | None, run_id: int) -> tuple[RunRecord, RunSnapshot, float]:
        with self.lock:
            run = self._run(account_id, run_id)
            now = self.clock()
            return run, evaluate(run, now), now

    def job_of(self, run: RunRecord) -> JobRecord | None:
        return self.jobs.get(run.job_id)

    def environment(self, account_id: int, environment_id: int) -> EnvironmentRecord:
        with self.lock:
            env = self.environments.get((account_id, environment_id))
            if env is None:
                raise NotFound(f"environment {environment_id}")
            return env

    def project(self, account_id: int, project_id: int) -> ProjectRecord:
        with self.lock:
            project = self.projects.get((account_id, project_id))
            if project is None:
                raise NotFound(f"project {project_id}")
            return project

    def job(self, account_id: int, job_id: int) -> JobRecord:
        with self.lock:
            return self._job(account_id, job_id)

    def account(self, account_id: int) -> AccountRecord:
        with self.lock:
            return self._account(account_id)

    def list_jobs(self, account_id: int, project_id: int | None, environment_id: int | None) -> list[JobRecord]:
        with self.lock:
            return sorted(
                (
                    j
                    for j in self.jobs.values()
                    if j.account_id == account_id
                    and project_id in (None, j.project_id)
                    and environment_id in (None, j.environment_id)
                ),
                key=lambda j: j.id,
            )

    def list_projects(self, account_id: int) -> list[ProjectRecord]:
        with self.lock:
            return sorted((p for (a, _), p in self.projects.items() if a == account_id), key=lambda p: p.id)

    def list_environments(self, account_id: int, project_id: int | None) -> list[EnvironmentRecord]:
        with self.lock:
            return sorted(
                (
                    e
                    for (a, _), e in self.environments.items()
                    if a == account_id and project_id in (None, e.project_id)
                ),
                key=lambda e: e.id,
            )

    def counts(self) -> dict[str, Any]:
        with self.lock:
            return {
                "accounts": len(self.accounts),
                "projects": len(self.projects),
                "environments": len(self.environments),
                "jobs": len(self.jobs),
                "runs": len(self.runs),
                "lifecycle": {"queued_seconds": self.queued_seconds, "running_seconds": self.running_seconds},
            }

    # ------------------------------------------------------------------ internals

    def _account(self, account_id: int) -> AccountRecord:
        account = self.accounts.get(account_id)
        if account is None:
            raise NotFound(f"account {account_id}")
        return account

    def _job(self, account_id: int | None, job_id: int) -> JobRecord:
        job = self.jobs.get(job_id)
        if job is None or (account_id is not None and job.account_id != account_id):
            raise NotFound(f"job {job_id}")
        return job

    def _run(self, account_id: int | None, run_id: int) -> RunRecord:
        run = self.runs.get(run_id)
        if run is None or (account_id is not None and run.account_id != account_id):
            raise NotFound(f"run {run_id}")
        return run

    def _insert(self, run: RunRecord) -> None:
        self.runs[run.id] = run
        _insert_sorted(self.account_runs.setdefault(run.account_id, []), run.id)
        _insert_sorted(self.job_runs.setdefault(run.job_id, []), run.id)
        self._next_run_id = max(self._next_run_id, run.id + 1)

    def _take_trigger_id(self) -> int:
        self._next_trigger_id += 1
        return self._next_trigger_id - 1

    def _take_step_ids(self, count: int) -> int:
        base = self._next_step_id
        self._next_step_id += max(count, 1)
        return base


def _insert_sorted(ids: list[int], value: int) -> None:
    if not ids or ids[-1] < value:
        ids.append(value)
    else:
        bisect.insort(ids, value)


def _final_status(status: int | str) -> int:
    code = status_code(status)
    if code < 10:
        raise ValueError("a run outcome must be a final status: success, error or cancelled")
    return code
