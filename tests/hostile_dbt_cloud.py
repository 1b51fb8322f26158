"""A hostile dbt Cloud API on a loopback port: each run answers exactly what a test scripts.

The emulator models a well-behaved dbt Cloud; this server is for answers it never gives: wrong
types, huge numbers, NUL bytes, very long texts, dates out of range, another run's id or account,
``{}`` or an error envelope where an artifact belongs, 404/5xx for artifacts that existed before.
Real sockets and real HTTP, so the client, collector and store under test are the real ones.

    with HostileDbtCloud() as cloud:
        cloud.add_run(7014, nodes=55)
        cloud.run(7014)["git_branch"] = "x" * 5000          # any field, any JSON value
        cloud.node(7014, 3)["failures"] = 2**40             # a run_results entry
        cloud.set_artifact(7014, RUN_RESULTS, Reply.json({}))
        collect_data_from_dbt_cloud(ACCOUNT_ID, TOKEN, 7014, cloud.url, ...)

Reusable by other suites (the monitor lists runs through :meth:`HostileDbtCloud.add_run` too).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any, Optional
from urllib.parse import parse_qs, urlsplit

from loopback_http import LoopbackServer, send

ACCOUNT_ID = 1
TOKEN = "hostile-dbt-cloud-token"
MANIFEST = "manifest.json"
RUN_RESULTS = "run_results.json"
PROJECT_ID = 70
ENVIRONMENT_ID = 80
JOB_ID = 500
BUILD_STEP = 4
STARTED = "2026-11-20T08:00:00+00:00"
FINISHED = "2026-11-20T08:05:00+00:00"

_RUN = re.compile(r"^/api/v2/accounts/(\d+)/runs/(\d+)/$")
_RUNS = re.compile(r"^/api/v2/accounts/(\d+)/runs/$")
_ARTIFACT = re.compile(r"^/api/v2/accounts/(\d+)/runs/(\d+)/artifacts/(.+)$")
_PROJECT = re.compile(r"^/api/v3/accounts/(\d+)/projects/(\d+)/$")
_ENVIRONMENT = re.compile(r"^/api/v3/accounts/(\d+)/environments/(\d+)/$")


@dataclass
class Reply:
    """One HTTP answer; ``json``/``envelope`` build the usual shapes."""

    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"

    @classmethod
    def json(cls, document: Any, status: int = 200) -> Reply:
        return cls(status, json.dumps(document).encode())

    @classmethod
    def envelope(cls, data: Any, status: int = 200, message: str = "ok") -> Reply:
        """dbt Cloud's ``{"status": ..., "data": ...}`` wrapper (an error envelope when ``status`` >= 400)."""
        ok = status < 400
        return cls.json({"status": {"code": status, "is_success": ok, "user_message": message}, "data": data}, status)


@dataclass
class HostileRun:
    """What the server answers for one run: the run object and each artifact, editable at any time."""

    data: Any
    results: dict = field(default_factory=dict)
    manifest: dict = field(default_factory=dict)
    # (step, artifact) -> Reply that replaces the generated artifact (404, 503, {}, an error envelope...).
    overrides: dict = field(default_factory=dict)


def node_id(i: int) -> str:
    return f"model.hostile.node_{i}"


def run_object(run_id: int, account_id: int = ACCOUNT_ID, status: int = 10) -> dict:
    """A finished dbt Cloud run with a clone step and a ``dbt build`` step, as the v2 API sends it."""
    return {
        "id": run_id,
        "account_id": account_id,
        "job_definition_id": JOB_ID,
        "project_id": PROJECT_ID,
        "environment_id": ENVIRONMENT_ID,
        "status": status,
        "status_message": None,
        "git_branch": "main",
        "git_sha": "0123abcd",
        "dbt_version": "1.9.0",
        "created_at": STARTED,
        "started_at": STARTED,
        "finished_at": FINISHED,
        "href": None,
        "job": {"id": JOB_ID, "account_id": account_id, "name": "Hostile nightly", "execute_steps": ["dbt build"]},
        "trigger": {"id": 1, "cause": "Scheduled"},
        "run_steps": [
            {"index": 1, "name": "Clone git repository", "status": 10, "started_at": STARTED, "finished_at": STARTED},
            {
                "index": BUILD_STEP,
                "name": "Invoke dbt with `dbt build`",
                "status": status,
                "started_at": STARTED,
                "finished_at": FINISHED,
            },
        ],
    }


def result_entry(i: int) -> dict:
    """One run_results.json entry for node ``i`` (a model that succeeded)."""
    return {
        "unique_id": node_id(i),
        "status": "success",
        "execution_time": 0.5,
        "adapter_response": {"rows_affected": i},
        "message": "OK",
        "failures": None,
        "thread_id": "Thread-1",
        "timing": [{"name": "execute", "started_at": "2026-11-20T08:01:00Z", "completed_at": "2026-11-20T08:01:01Z"}],
    }


def manifest_entry(i: int) -> dict:
    return {
        "name": f"node_{i}",
        "resource_type": "model",
        "package_name": "hostile",
        "depends_on": {"nodes": [node_id(i - 1)] if i else []},
        "config": {"materialized": "table", "tags": ["nightly"]},
        "checksum": {"name": "sha256", "checksum": f"{i:064x}"},
    }


class HostileDbtCloud(LoopbackServer):
    """A loopback server answering the dbt Cloud calls a collection makes, from editable per-run scripts.

    :param project_name: the name ``GET project`` answers (any JSON value).
    :param environment_name: the name ``GET environment`` answers.
    """

    def __init__(self, project_name: Any = "Hostile project", environment_name: Any = "Production") -> None:
        self.runs: dict[int, HostileRun] = {}
        self.project_name = project_name
        self.environment_name = environment_name
        self.requests: list[str] = []
        super().__init__()

    def handle(self, handler: BaseHTTPRequestHandler) -> None:
        self.requests.append(handler.path)
        reply = self.answer(handler.path)
        send(handler, reply.status, reply.body, {"Content-Type": reply.content_type})

    # -- scripting --------------------------------------------------------------------------------

    def add_run(self, run_id: int, *, nodes: int = 5, account_id: int = ACCOUNT_ID, status: int = 10) -> HostileRun:
        """A finished run whose build step has ``nodes`` successful models in run_results.json and the manifest."""
        self.runs[run_id] = HostileRun(
            data=run_object(run_id, account_id, status),
            results={"metadata": {"dbt_version": "1.9.0"}, "results": [result_entry(i) for i in range(nodes)]},
            manifest={
                "metadata": {"dbt_version": "1.9.0"},
                "nodes": {node_id(i): manifest_entry(i) for i in range(nodes)},
            },
        )
        return self.runs[run_id]

    def run(self, run_id: int) -> Any:
        """The run object answered for ``run_id`` (edit it in place, or replace ``runs[id].data``)."""
        return self.runs[run_id].data

    def node(self, run_id: int, i: int) -> dict:
        """The ``i``-th run_results.json entry of the run's build step."""
        return self.runs[run_id].results["results"][i]

    def set_artifact(self, run_id: int, artifact: str, reply: Optional[Reply], step: int = BUILD_STEP) -> None:
        """Answer ``reply`` for one artifact of one step (None: the generated artifact again)."""
        if reply is None:
            self.runs[run_id].overrides.pop((step, artifact), None)
        else:
            self.runs[run_id].overrides[(step, artifact)] = reply

    def fail_artifacts(self, run_id: int, status: int, step: int = BUILD_STEP) -> None:
        """Every artifact of the step answers ``status`` with an error envelope (404 after retention, 503...)."""
        for artifact in (MANIFEST, RUN_RESULTS):
            self.set_artifact(run_id, artifact, Reply.envelope(None, status, "artifact unavailable"), step)

    # -- answering --------------------------------------------------------------------------------

    def answer(self, raw_path: str) -> Reply:
        parts = urlsplit(raw_path)
        path, query = parts.path, parse_qs(parts.query)
        if match := _RUN.match(path):
            run = self.runs.get(int(match.group(2)))
            return Reply.envelope(run.data) if run else Reply.envelope(None, 404, "run not found")
        if match := _ARTIFACT.match(path):
            return self._artifact(int(match.group(2)), match.group(3), int(query.get("step", ["0"])[0]))
        if match := _PROJECT.match(path):
            return Reply.envelope({"id": int(match.group(2)), "name": self.project_name})
        if match := _ENVIRONMENT.match(path):
            return Reply.envelope({"id": int(match.group(2)), "name": self.environment_name})
        if _RUNS.match(path):
            return Reply.envelope([run.data for run in self.runs.values()])
        return Reply.envelope(None, 404, "not found")

    def _artifact(self, run_id: int, artifact: str, step: int) -> Reply:
        run = self.runs.get(run_id)
        if run is None:
            return Reply.envelope(None, 404, "run not found")
        if (step, artifact) in run.overrides:
            return run.overrides[(step, artifact)]
        if step != BUILD_STEP:
            return Reply.envelope(None, 404, "no such artifact")
        if artifact == RUN_RESULTS:
            return Reply.json(run.results)
        if artifact == MANIFEST:
            return Reply.json(run.manifest)
        return Reply.envelope(None, 404, "no such artifact")
