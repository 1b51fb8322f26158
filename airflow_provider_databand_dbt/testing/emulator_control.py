"""The emulator's own HTTP control plane under ``/_emulator/`` (no auth), for tests in other processes.

Each route mirrors a :class:`~airflow_provider_databand_dbt.testing.emulator.DbtCloudEmulator`
method and takes a JSON body with the same argument names.
"""

from __future__ import annotations

import inspect
import re
from typing import Any, Callable

from airflow_provider_databand_dbt.testing.emulator_api import ApiRequest, BadRequest, Reply, Route, Router, envelope
from airflow_provider_databand_dbt.testing.emulator_faults import Fault, FaultBook, RequestLog
from airflow_provider_databand_dbt.testing.emulator_ratelimit import AccountRateLimit
from airflow_provider_databand_dbt.testing.emulator_state import EmulatorState
from airflow_provider_databand_dbt.testing.emulator_webhook_control import WebhookControl
from airflow_provider_databand_dbt.testing.emulator_webhook_dispatch import WebhookDispatcher

PREFIX = "/_emulator/"


def _call(func: Callable[..., Any], body: dict[str, Any]) -> Any:
    """Call ``func`` with the body's fields as keyword arguments; unknown or missing ones are a 400."""
    params = inspect.signature(func).parameters
    unknown = set(body) - set(params)
    if unknown:
        raise BadRequest(f"unknown field(s): {', '.join(sorted(unknown))}")
    try:
        return func(**body)
    except TypeError as exc:
        raise BadRequest(str(exc)) from None


class ControlPlane(Router):
    """Routes under ``/_emulator/`` over the emulator's state, faults and request log."""

    def __init__(
        self,
        state: EmulatorState,
        faults: FaultBook,
        requests: RequestLog,
        webhooks: WebhookDispatcher | None = None,
        rate_limit: AccountRateLimit | None = None,
    ) -> None:
        self.state = state
        self.faults = faults
        self.requests = requests
        self.rate_limit = rate_limit or AccountRateLimit()
        self.routes: list[Route] = [
            ("POST", re.compile(r"^/_emulator/faults/?$"), self.add_fault),
            ("GET", re.compile(r"^/_emulator/faults/?$"), self.list_faults),
            ("DELETE", re.compile(r"^/_emulator/faults/?$"), self.clear_faults),
            ("GET", re.compile(r"^/_emulator/requests/?$"), self.list_requests),
            ("DELETE", re.compile(r"^/_emulator/requests/?$"), self.clear_requests),
            ("POST", re.compile(r"^/_emulator/accounts/?$"), self.add_account),
            ("POST", re.compile(r"^/_emulator/projects/?$"), self.add_project),
            ("POST", re.compile(r"^/_emulator/environments/?$"), self.add_environment),
            ("POST", re.compile(r"^/_emulator/jobs/?$"), self.add_job),
            ("POST", re.compile(r"^/_emulator/jobs/(?P<job>\d+)/outcome/?$"), self.set_outcome),
            ("POST", re.compile(r"^/_emulator/runs/?$"), self.add_runs),
            ("POST", re.compile(r"^/_emulator/runs/(?P<run>\d+)/status/?$"), self.set_status),
            ("POST", re.compile(r"^/_emulator/lifecycle/?$"), self.set_lifecycle),
            ("GET", re.compile(r"^/_emulator/state/?$"), self.get_state),
            ("POST", re.compile(r"^/_emulator/rate_limit/?$"), self.set_rate_limit),
            ("GET", re.compile(r"^/_emulator/rate_limit/?$"), self.get_rate_limit),
        ]
        if webhooks is not None:
            self.routes.extend(WebhookControl(webhooks).routes)

    def add_fault(self, req: ApiRequest) -> Reply:
        try:
            fault = self.faults.add(Fault.from_dict(req.json_body()))
        except (TypeError, ValueError) as exc:
            raise BadRequest(str(exc)) from None
        return envelope(fault.as_dict(), 201)

    def list_faults(self, req: ApiRequest) -> Reply:
        return envelope([f.as_dict() for f in self.faults.snapshot()])

    def clear_faults(self, req: ApiRequest) -> Reply:
        self.faults.clear()
        return envelope({"cleared": True})

    def list_requests(self, req: ApiRequest) -> Reply:
        return envelope([r.as_dict() for r in self.requests.snapshot()])

    def clear_requests(self, req: ApiRequest) -> Reply:
        self.requests.clear()
        return envelope({"cleared": True})

    def add_account(self, req: ApiRequest) -> Reply:
        account = _call(self.state.add_account, req.json_body())
        return envelope({"id": account.id, "name": account.name}, 201)

    def add_project(self, req: ApiRequest) -> Reply:
        project = _call(self.state.add_project, req.json_body())
        return envelope({"id": project.id, "account_id": project.account_id, "name": project.name}, 201)

    def add_environment(self, req: ApiRequest) -> Reply:
        env = _call(self.state.add_environment, req.json_body())
        return envelope({"id": env.id, "account_id": env.account_id, "project_id": env.project_id}, 201)

    def add_job(self, req: ApiRequest) -> Reply:
        job = _call(self.state.add_job, req.json_body())
        return envelope({"id": job.id, "account_id": job.account_id, "scenario": job.scenario.name}, 201)

    def set_outcome(self, req: ApiRequest, job: str) -> Reply:
        body = req.json_body()
        if set(body) - {"status"}:
            raise BadRequest("the body takes only 'status' (success, error, cancelled or null)")
        self.state.set_run_outcome(int(job), body.get("status"))
        return envelope({"job_id": int(job), "outcome": body.get("status")})

    def add_runs(self, req: ApiRequest) -> Reply:
        run_ids = _call(self.state.add_runs, req.json_body())
        return envelope({"run_ids": run_ids, "count": len(run_ids)}, 201)

    def set_status(self, req: ApiRequest, run: str) -> Reply:
        body = req.json_body()
        if "status" not in body or set(body) - {"status"}:
            raise BadRequest("the body takes one field: 'status' (a label such as 'running', or a code)")
        self.state.set_run_status(int(run), body["status"])
        return envelope({"run_id": int(run), "status": body["status"]})

    def set_lifecycle(self, req: ApiRequest) -> Reply:
        _call(self.state.set_lifecycle, req.json_body())
        return envelope(self.state.counts()["lifecycle"])

    def set_rate_limit(self, req: ApiRequest) -> Reply:
        """Body: ``requests_per_minute`` (null: none), ``lockout_seconds`` (default 300), ``reset`` (default true)."""
        try:
            return envelope(_call(self.rate_limit.configure, req.json_body()))
        except (TypeError, ValueError) as exc:
            raise BadRequest(str(exc)) from None

    def get_rate_limit(self, req: ApiRequest) -> Reply:
        return envelope(self.rate_limit.snapshot())

    def get_state(self, req: ApiRequest) -> Reply:
        counts = self.state.counts()
        counts.update(faults=len(self.faults), requests=len(self.requests))
        return envelope(counts)
