"""The dbt Cloud API endpoints of the emulator: parsed request in, reply out (no sockets here)."""

from __future__ import annotations

import json
import mimetypes
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from airflow_provider_databand_dbt.testing.emulator_listing import RunFilters, list_runs, parse_ids, parse_statuses
from airflow_provider_databand_dbt.testing.emulator_payloads import (
    account_payload,
    available_artifacts,
    environment_payload,
    job_payload,
    project_payload,
    run_payload,
)
from airflow_provider_databand_dbt.testing.emulator_retries import rerun_job, retry_run
from airflow_provider_databand_dbt.testing.emulator_state import EmulatorState, NotFound
from airflow_provider_databand_dbt.testing.scenarios import artifact_file

MAX_PAGE_SIZE = 100
RELATED_NAMES = frozenset(("run_steps", "job", "trigger", "environment"))

_MESSAGES = {
    400: "The request was invalid.",
    401: "Invalid token.",
    403: "You do not have permission to access this account.",
    404: "The requested resource was not found.",
    405: "Method not allowed.",
    429: "Too many requests. Please slow down.",
    500: "An unexpected error occurred.",
    502: "Bad gateway.",
    503: "Service temporarily unavailable.",
    504: "Gateway timeout.",
}


class BadRequest(ValueError):
    """Invalid parameters or body (answered as 400 with the message)."""


@dataclass
class Reply:
    """An answer: JSON bytes, or a file streamed from disk (artifacts)."""

    status: int
    body: bytes = b""
    file: Path | None = None
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class ApiRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    body: bytes
    base_url: str

    def param(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else None

    def int_param(self, name: str, default: int | None = None) -> int | None:
        value = self.param(name)
        if value is None or value == "":
            return default
        try:
            return int(value)
        except ValueError:
            raise BadRequest(f"{name} must be an integer, got {value!r}") from None

    def json_body(self) -> dict[str, Any]:
        if not self.body.strip():
            return {}
        try:
            data = json.loads(self.body)
        except ValueError:
            raise BadRequest("the request body is not valid JSON") from None
        if not isinstance(data, dict):
            raise BadRequest("the request body must be a JSON object")
        return data


def envelope(data: Any, status: int = 200, extra: dict[str, Any] | None = None, message: str | None = None) -> Reply:
    ok = status < 400
    document = {
        "status": {
            "code": status,
            "is_success": ok,
            "user_message": message or ("Success!" if ok else _MESSAGES.get(status, "Request failed.")),
            "developer_message": "",
        },
        "data": data if ok else None,
        "extra": extra or {},
    }
    return Reply(status, json.dumps(document, separators=(",", ":")).encode())


def error(status: int, message: str | None = None, headers: dict[str, str] | None = None) -> Reply:
    reply = envelope(None, status, message=message)
    reply.headers.update(headers or {})
    return reply


def parse_related(values: list[str]) -> frozenset[str]:
    """``include_related`` as a JSON list string, repeated parameters, or comma separated."""
    names: set[str] = set()
    for value in values:
        text = value.strip()
        if text.startswith("["):
            try:
                items = json.loads(text)
            except ValueError:
                items = text.strip("[]").split(",")
        else:
            items = text.split(",")
        names.update(str(item).strip().strip("'\"") for item in items)
    return frozenset(names & RELATED_NAMES)


def page_params(req: ApiRequest) -> tuple[int, int]:
    limit = req.int_param("limit", MAX_PAGE_SIZE)
    offset = req.int_param("offset", 0)
    assert limit is not None and offset is not None
    if limit < 1 or limit > MAX_PAGE_SIZE:
        raise BadRequest(f"limit must be between 1 and {MAX_PAGE_SIZE}, got {limit}")
    if offset < 0:
        raise BadRequest(f"offset must not be negative, got {offset}")
    return limit, offset


def listing(items: list[Any], total: int, filters: dict[str, Any]) -> Reply:
    extra = {
        "filters": filters,
        "order_by": filters.get("order_by"),
        "pagination": {"count": len(items), "total_count": total},
    }
    return envelope(items, extra=extra)


def _paged(req: ApiRequest, account_id: int, items: list[dict[str, Any]], **filters: Any) -> Reply:
    limit, offset = page_params(req)
    shown = {
        "account_id": account_id,
        "limit": limit,
        "offset": offset,
        **{k: v for k, v in filters.items() if v is not None},
    }
    return listing(items[offset : offset + limit], len(items), shown)


Route = tuple[str, re.Pattern[str], Callable[..., Reply]]


class Router:
    """Finds the handler for a request among ``routes`` (method, path pattern, handler), first match wins."""

    routes: list[Route]

    def match(self, method: str, path: str) -> tuple[Callable[..., Reply] | None, dict[str, str], bool]:
        """(handler, path params, path exists with another method)."""
        other_method = False
        for route_method, pattern, handler in self.routes:
            found = pattern.match(path)
            if found:
                if route_method == method:
                    return handler, found.groupdict(), False
                other_method = True
        return None, {}, other_method


class DbtCloudApi(Router):
    """Routes of the dbt Cloud Administrative API (v2 + v3) over an :class:`EmulatorState`."""

    def __init__(self, state: EmulatorState) -> None:
        self.state = state
        acct = r"^/api/v2/accounts/(?P<account>\d+)"
        v23 = r"^/api/v[23]/accounts/(?P<account>\d+)"
        self.routes: list[Route] = [
            ("GET", re.compile(acct + r"/?$"), self.get_account),
            ("GET", re.compile(acct + r"/runs/?$"), self.list_runs),
            ("GET", re.compile(acct + r"/runs/(?P<run>\d+)/?$"), self.get_run),
            ("POST", re.compile(acct + r"/runs/(?P<run>\d+)/cancel/?$"), self.cancel_run),
            ("POST", re.compile(acct + r"/runs/(?P<run>\d+)/retry/?$"), self.retry_run),
            ("GET", re.compile(acct + r"/runs/(?P<run>\d+)/artifacts/?$"), self.list_artifacts),
            ("GET", re.compile(acct + r"/runs/(?P<run>\d+)/artifacts/(?P<path>.+)$"), self.get_artifact),
            ("GET", re.compile(acct + r"/jobs/?$"), self.list_jobs),
            ("GET", re.compile(acct + r"/jobs/(?P<job>\d+)/?$"), self.get_job),
            ("POST", re.compile(acct + r"/jobs/(?P<job>\d+)/run/?$"), self.trigger_run),
            ("POST", re.compile(acct + r"/jobs/(?P<job>\d+)/rerun/?$"), self.rerun),
            ("GET", re.compile(v23 + r"/projects/?$"), self.list_projects),
            ("GET", re.compile(v23 + r"/projects/(?P<project>\d+)/?$"), self.get_project),
            ("GET", re.compile(v23 + r"/projects/(?P<project>\d+)/environments/?$"), self.list_environments),
            ("GET", re.compile(v23 + r"/projects/(?P<project>\d+)/environments/(?P<env>\d+)/?$"), self.get_environment),
            ("GET", re.compile(v23 + r"/environments/(?P<env>\d+)/?$"), self.get_environment),
        ]

    # ------------------------------------------------------------------ accounts, jobs, projects

    def get_account(self, req: ApiRequest, account: str) -> Reply:
        return envelope(account_payload(self.state.account(int(account))))

    def list_jobs(self, req: ApiRequest, account: str) -> Reply:
        project_id, env_id = req.int_param("project_id"), req.int_param("environment_id")
        order_by = req.param("order_by") or "id"
        keys = {"id": lambda j: j.id, "name": lambda j: j.name, "created_at": lambda j: (j.created_at, j.id)}
        key = keys.get(order_by.lstrip("-"))
        if key is None:
            raise BadRequest(f"order_by must be one of {', '.join(keys)} (optionally with '-')")
        jobs = sorted(self.state.list_jobs(int(account), project_id, env_id), key=key, reverse=order_by.startswith("-"))
        return _paged(
            req,
            int(account),
            [job_payload(j) for j in jobs],
            project_id=project_id,
            environment_id=env_id,
            order_by=order_by,
        )

    def get_job(self, req: ApiRequest, account: str, job: str) -> Reply:
        return envelope(job_payload(self.state.job(int(account), int(job))))

    def list_projects(self, req: ApiRequest, account: str) -> Reply:
        return _paged(req, int(account), [project_payload(p) for p in self.state.list_projects(int(account))])

    def get_project(self, req: ApiRequest, account: str, project: str) -> Reply:
        return envelope(project_payload(self.state.project(int(account), int(project))))

    def list_environments(self, req: ApiRequest, account: str, project: str) -> Reply:
        self.state.project(int(account), int(project))
        envs = self.state.list_environments(int(account), int(project))
        return _paged(req, int(account), [environment_payload(e) for e in envs], project_id=int(project))

    def get_environment(self, req: ApiRequest, account: str, env: str, project: str | None = None) -> Reply:
        found = self.state.environment(int(account), int(env))
        if project is not None and found.project_id != int(project):
            raise NotFound(f"environment {env} in project {project}")
        return envelope(environment_payload(found))

    # ------------------------------------------------------------------ runs

    def _run_reply(self, req: ApiRequest, account_id: int, run_id: int, related: frozenset[str]) -> Reply:
        state = self.state
        with state.lock:
            run, snap, now = state.snapshot(account_id, run_id)
            data = run_payload(
                run,
                snap,
                now=now,
                base_url=req.base_url,
                related=related,
                job=state.job_of(run),
                environment=state.environments.get((run.account_id, run.environment_id)),
            )
        return envelope(data)

    def get_run(self, req: ApiRequest, account: str, run: str) -> Reply:
        related = parse_related(req.query.get("include_related", []))
        return self._run_reply(req, int(account), int(run), related)

    def list_runs(self, req: ApiRequest, account: str) -> Reply:
        limit, offset = page_params(req)
        order_by = req.param("order_by") or "id"
        status_values = req.query.get("status", []) + req.query.get("status__in", [])
        try:
            statuses = parse_statuses(status_values) if status_values else None
        except (KeyError, ValueError):
            raise BadRequest(f"unknown status in {status_values}") from None
        # The id filters of dbt Cloud's "List Runs" spec: id__gt and pk__in (also pk). Anything else,
        # id__in included, is not in the spec and is ignored, as a Django filter set ignores it.
        try:
            pk_values = req.query.get("pk__in", []) + req.query.get("pk", [])
            ids = parse_ids(pk_values) if pk_values else None
        except ValueError:
            raise BadRequest(f"pk__in must be run ids, got {req.query.get('pk__in')}") from None
        filters = RunFilters(
            job_id=req.int_param("job_definition_id"),
            project_id=req.int_param("project_id"),
            environment_id=req.int_param("environment_id"),
            statuses=statuses,
            id_gt=req.int_param("id__gt"),
            ids=ids,
        )
        related = parse_related(req.query.get("include_related", []))
        state = self.state
        if state.list_related is not None:
            related &= state.list_related
        with state.lock:
            page, total, now = list_runs(state, int(account), filters, order_by, limit, offset)
            items = [
                run_payload(
                    run,
                    snap,
                    now=now,
                    base_url=req.base_url,
                    related=related,
                    job=state.job_of(run),
                    environment=state.environments.get((run.account_id, run.environment_id)),
                )
                for run, snap in page
            ]
        shown = {
            "account_id": int(account),
            "limit": limit,
            "offset": offset,
            "order_by": order_by,
            "job_definition_id": filters.job_id,
            "project_id": filters.project_id,
            "environment_id": filters.environment_id,
            "status__in": sorted(statuses) if statuses else None,
            "id__gt": filters.id_gt,
            "pk__in": sorted(ids) if ids is not None else None,
        }
        return listing(items, total, {k: v for k, v in shown.items() if v is not None})

    def cancel_run(self, req: ApiRequest, account: str, run: str) -> Reply:
        self.state.cancel(int(account), int(run))
        return self._run_reply(req, int(account), int(run), frozenset())

    def trigger_run(self, req: ApiRequest, account: str, job: str) -> Reply:
        run_id = self.state.trigger(int(account), int(job), req.json_body(), default_cause=None)
        return self._run_reply(req, int(account), run_id, frozenset(("job", "trigger")))

    def rerun(self, req: ApiRequest, account: str, job: str) -> Reply:
        run_id = rerun_job(self.state, int(account), int(job), req.json_body())
        return self._run_reply(req, int(account), run_id, frozenset(("job", "trigger")))

    def retry_run(self, req: ApiRequest, account: str, run: str) -> Reply:
        run_id = retry_run(self.state, int(account), int(run), req.json_body())
        return self._run_reply(req, int(account), run_id, frozenset(("job", "trigger")))

    # ------------------------------------------------------------------ artifacts

    def list_artifacts(self, req: ApiRequest, account: str, run: str) -> Reply:
        step = req.int_param("step")
        run_rec, snap, _ = self.state.snapshot(int(account), int(run))
        if step is not None:
            return envelope(available_artifacts(run_rec, snap, step))
        names: list[str] = []
        for s in snap.steps:
            names.extend(n for n in available_artifacts(run_rec, snap, s.index) if n not in names)
        return envelope(names)

    def get_artifact(self, req: ApiRequest, account: str, run: str, path: str) -> Reply:
        step = req.int_param("step")
        run_rec, snap, _ = self.state.snapshot(int(account), int(run))
        indices = [step] if step is not None else [s.index for s in reversed(snap.steps)]
        for index in indices:
            if path in available_artifacts(run_rec, snap, index):
                source = next(s.source_index for s in snap.steps if s.index == index)
                found = artifact_file(run_rec.artifacts_root, source, path)
                if found is not None:
                    content_type = mimetypes.guess_type(path)[0] or "application/octet-stream"
                    return Reply(200, file=found, content_type=content_type)
        where = f"step {step}" if step is not None else "any finished step"
        return error(404, f"No artifact {path!r} for run {run} in {where}.")
