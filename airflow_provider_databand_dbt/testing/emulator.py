"""A local dbt Cloud API emulator: a real HTTP server for tests, benchmarks and the demo.

It serves the endpoints in ``docs/dbt_cloud_api.md`` with real dbt artifacts, moves
triggered runs through queued → running → final status by wall-clock time, and can inject
faults (error statuses, slowness, truncated or corrupt bodies, dropped connections)::

    with DbtCloudEmulator() as emulator:
        requests.get(f"{emulator.url}/api/v2/accounts/{DEMO_ACCOUNT_ID}/runs/",
                     headers={"Authorization": f"Token {DEMO_TOKEN}"})

Tests in another process drive the same controls over HTTP under ``/_emulator/``
(see :mod:`airflow_provider_databand_dbt.testing.emulator_control`).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from airflow_provider_databand_dbt.testing.emulator_faults import Fault, FaultBook, RequestLog, RequestRecord
from airflow_provider_databand_dbt.testing.emulator_http import EmulatorApp, EmulatorServer
from airflow_provider_databand_dbt.testing.emulator_ratelimit import DEFAULT_LOCKOUT_SECONDS
from airflow_provider_databand_dbt.testing.emulator_runs import evaluate
from airflow_provider_databand_dbt.testing.emulator_state import FIRST_RUN_ID, EmulatorState
from airflow_provider_databand_dbt.testing.emulator_webhook_dispatch import WebhookDispatcher
from airflow_provider_databand_dbt.testing.emulator_webhooks import DeliveryRecord, WebhookFault, WebhookSubscription
from airflow_provider_databand_dbt.testing.scenarios import ARTIFACTS_DIR, ScenarioLibrary

__all__ = [
    "DEMO_ACCOUNT_ID",
    "DEMO_TOKEN",
    "DEMO_PROJECT_ID",
    "DEMO_ENVIRONMENT_ID",
    "NIGHTLY_JOB_ID",
    "HOURLY_JOB_ID",
    "DbtCloudEmulator",
    "Fault",
    "RequestRecord",
    "WebhookFault",
    "WebhookSubscription",
]

DEMO_ACCOUNT_ID = 1
# A fake, public token: it only opens the local emulator, so printing it is fine.
DEMO_TOKEN = "dbtc_demo_local_emulator_token_not_a_secret"
DEMO_ACCOUNT_NAME = "Demo analytics"
DEMO_PROJECT_ID = 10
DEMO_ENVIRONMENT_ID = 20
NIGHTLY_JOB_ID = 100
HOURLY_JOB_ID = 101
# (job id, name, scenario, hours between seeded runs)
_SEED_JOBS = (
    (NIGHTLY_JOB_ID, "Nightly build", "nightly_build", 24.0),
    (HOURLY_JOB_ID, "Hourly models", "healthy_run", 1.0),
)


class DbtCloudEmulator:
    """An emulated dbt Cloud account server on a loopback port, in a background thread.

    :param host: address to listen on (keep it loopback).
    :param port: 0 picks a free port; :attr:`url` tells which.
    :param seed: add the demo account (``DEMO_ACCOUNT_ID`` / ``DEMO_TOKEN``), project 10,
        environment 20, jobs 100 "Nightly build" and 101 "Hourly models" with finished runs.
    :param runs_per_job: how many finished runs each seeded job gets.
    :param scenarios_dir: where ``scenarios.json`` and the artifacts are (default: the package's).
    :param request_log_limit: most recent requests kept in :attr:`requests`.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        seed: bool = True,
        runs_per_job: int = 3,
        scenarios_dir: str | Path | None = None,
        request_log_limit: int = 200_000,
    ) -> None:
        self.scenarios = ScenarioLibrary(scenarios_dir or ARTIFACTS_DIR)
        self.state = EmulatorState(self.scenarios)
        self._faults = FaultBook()
        self._requests = RequestLog(request_log_limit)
        self.webhooks = WebhookDispatcher(self.state)
        app = EmulatorApp(self.state, self._faults, self._requests, self.webhooks)
        self._server = EmulatorServer(app, host, port)
        self.seeded_runs: dict[int, list[int]] = {}
        if seed:
            self._seed(runs_per_job)

    # ------------------------------------------------------------------ server

    @property
    def url(self) -> str:
        """Base URL to give clients, e.g. ``http://127.0.0.1:54321`` (known once started)."""
        return self._server.url

    @property
    def host(self) -> str:
        return self._server.host

    @property
    def port(self) -> int:
        return self._server.port

    def start(self) -> DbtCloudEmulator:
        self._server.start()
        self.webhooks.start()
        return self

    def stop(self) -> None:
        self.webhooks.stop()
        self._server.stop()

    def __enter__(self) -> DbtCloudEmulator:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"DbtCloudEmulator(url={self.url!r}, runs={len(self.state.runs)})"

    # ------------------------------------------------------------------ data

    def add_account(self, account_id: int, token: str, name: str | None = None) -> None:
        """Let ``token`` read ``account_id`` (a token may be added to several accounts)."""
        self.state.add_account(account_id, token, name)

    def add_project(self, account_id: int, project_id: int, name: str | None = None) -> None:
        self.state.add_project(account_id, project_id, name)

    def add_environment(
        self,
        account_id: int,
        environment_id: int,
        project_id: int,
        name: str | None = None,
        dbt_version: str = "1.10.0-latest",
    ) -> None:
        self.state.add_environment(account_id, environment_id, project_id, name, dbt_version)

    def add_job(
        self,
        account_id: int,
        job_id: int,
        name: str,
        project_id: int | None = None,
        environment_id: int | None = None,
        scenario: str = "healthy_run",
    ) -> None:
        """Add a job whose runs play ``scenario``; a missing project/environment is created."""
        self.state.add_job(account_id, job_id, name, project_id, environment_id, scenario)

    def add_run(
        self,
        account_id: int,
        job_id: int,
        *,
        run_id: int | None = None,
        status: int | str | None = "success",
        scenario: str | None = None,
        created_at: datetime | str | float | None = None,
        artifacts_dir: str | Path | None = None,
        **options: Any,
    ) -> int:
        """Add one run and return its id.

        :param status: ``success``/``error``/``cancelled`` add a finished run (None: finished
            with the scenario's final status); ``queued`` or ``running`` start the lifecycle now
            (see :meth:`set_lifecycle`).
        :param scenario: steps and artifacts to play (default: the job's).
        :param artifacts_dir: serve artifacts from ``<dir>/step_<n>/<file>`` instead.
        :param options: ``cause``, ``git_branch``, ``steps_override``.
        """
        return self.add_runs(
            account_id,
            job_id,
            1,
            run_id=run_id,
            status=status,
            scenario=scenario,
            created_at=created_at,
            artifacts_dir=artifacts_dir,
            **options,
        )[0]

    def add_runs(self, account_id: int, job_id: int, count: int, **options: Any) -> list[int]:
        """Add ``count`` runs at once (oldest first, ``interval_seconds`` apart; same options as add_run)."""
        return self.state.add_runs(account_id, job_id, count, **options)

    # ------------------------------------------------------------------ lifecycle

    def set_lifecycle(self, queued_seconds: float, running_seconds: float) -> None:
        """How long runs triggered from now on stay queued, then running, before their final status."""
        self.state.set_lifecycle(queued_seconds, running_seconds)

    def set_run_outcome(self, job_id: int, status: int | str | None) -> None:
        """Final status of the job's future runs (``success``/``error``/``cancelled``; None: the scenario's)."""
        self.state.set_run_outcome(job_id, status)

    def set_run_status(self, run_id: int, status: int | str) -> None:
        """Force a run into ``status`` now; ``queued``/``running`` hold it there until changed."""
        self.state.set_run_status(run_id, status)

    def run_status(self, run_id: int) -> int:
        """The run's numeric status right now (1 queued ... 30 cancelled)."""
        with self.state.lock:
            run = self.state.runs[run_id]
            return evaluate(run, self.state.clock()).status

    def set_list_related(self, names: Iterable[str] | None) -> None:
        """Which ``include_related`` objects the runs list embeds (None: all, as ``get_run``).

        ``{"job", "trigger"}`` is what dbt Cloud's spec documents for the list: runs then come without
        their steps, and collectors fall back to one GET per run.
        """
        self.state.list_related = None if names is None else frozenset(names)

    # ------------------------------------------------------------------ faults and request log

    def inject_fault(self, fault: Fault) -> Fault:
        """Make matching requests fail (see :class:`Fault`); faults apply before authentication."""
        return self._faults.add(fault)

    def clear_faults(self) -> None:
        self._faults.clear()

    @property
    def requests(self) -> list[RequestRecord]:
        """API requests answered so far, oldest first (a copy; control-plane calls excluded)."""
        return self._requests.snapshot()

    def reset_request_log(self) -> None:
        self._requests.clear()

    # ------------------------------------------------------------------ webhooks

    def add_webhook(
        self,
        url: str,
        secret: str,
        *,
        account_id: int = DEMO_ACCOUNT_ID,
        event_types: Iterable[str] | None = None,
        job_ids: Iterable[int] = (),
        name: str = "emulator webhook",
    ) -> WebhookSubscription:
        """Send signed ``job.run.*`` events of ``account_id``'s runs to ``url`` (loopback only), like dbt Cloud.

        Runs starting, erroring and completing from now on are announced; retries, deactivation and the
        delivery log are in :attr:`webhooks` (see docs/emulator.md).

        :param secret: the key of the ``Authorization`` HMAC-SHA256 signature.
        :param event_types: some of ``job.run.started``, ``job.run.completed``, ``job.run.errored`` (default: all).
        :param job_ids: only these jobs' runs (default: every job of the account).
        """
        return self.webhooks.subscribe(
            url, secret, account_id=account_id, event_types=event_types, job_ids=job_ids, name=name
        )

    def inject_webhook_fault(self, fault: WebhookFault) -> WebhookFault:
        """Duplicate, redeliver, reorder, mis-sign or drop the matching events (see :class:`WebhookFault`)."""
        return self.webhooks.add_fault(fault)

    @property
    def webhook_deliveries(self) -> list[DeliveryRecord]:
        """Every delivery attempt so far, oldest first, with the receiver's answer."""
        return self.webhooks.delivery_log()

    # ------------------------------------------------------------------ dbt Cloud's account rate limit

    def set_rate_limit(self, requests_per_minute: int | None, lockout_seconds: float = DEFAULT_LOCKOUT_SECONDS) -> None:
        """Limit every account to ``requests_per_minute`` (any 60 s); a breach answers 429 for ``lockout_seconds``."""
        self._server.app.rate_limit.configure(requests_per_minute, lockout_seconds)

    @property
    def rate_limit_counts(self) -> dict[str, Any]:
        """Requests and 429s per account, lock-outs and the busiest 60 s (``GET /_emulator/rate_limit``)."""
        return self._server.app.rate_limit.snapshot()

    # ------------------------------------------------------------------ seed

    def _seed(self, runs_per_job: int) -> None:
        state = self.state
        state.add_account(DEMO_ACCOUNT_ID, DEMO_TOKEN, DEMO_ACCOUNT_NAME)
        state.add_project(DEMO_ACCOUNT_ID, DEMO_PROJECT_ID, "Jaffle shop")
        state.add_environment(DEMO_ACCOUNT_ID, DEMO_ENVIRONMENT_ID, DEMO_PROJECT_ID, "Production", "1.10.0-latest")
        now = state.clock()
        planned = []
        for job_id, name, scenario, every_hours in _SEED_JOBS:
            state.add_job(DEMO_ACCOUNT_ID, job_id, name, DEMO_PROJECT_ID, DEMO_ENVIRONMENT_ID, scenario)
            self.seeded_runs[job_id] = []
            for back in range(runs_per_job, 0, -1):
                # Finished well before now, so no seeded run is still in progress.
                planned.append((now - back * every_hours * 3600.0, job_id))
        # Ids grow with creation time across jobs, as they do in dbt Cloud.
        for offset, (created, job_id) in enumerate(sorted(planned)):
            run_id = state.add_runs(
                DEMO_ACCOUNT_ID,
                job_id,
                1,
                run_id=FIRST_RUN_ID + offset,
                status=None,
                created_at=created,
            )[0]
            self.seeded_runs[job_id].append(run_id)
