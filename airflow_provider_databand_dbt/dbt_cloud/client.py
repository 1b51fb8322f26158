"""The dbt Cloud Administrative API client: runs, jobs, artifacts, projects, environments.

One client serves any number of accounts (methods take ``account_id`` first). Every request
has a timeout, is retried under one :class:`RetryPolicy`, can be rate limited, and fails with
a typed error from :mod:`errors` whose message says what to do and never contains the token.
"""

from __future__ import annotations

import logging
import os
import posixpath
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Optional, cast
from urllib.parse import urlsplit

import msgspec

from airflow_provider_databand_dbt.dbt_cloud import urls
from airflow_provider_databand_dbt.dbt_cloud.errors import DbtCloudConfigError, DbtCloudInvalidResponseError
from airflow_provider_databand_dbt.dbt_cloud.failures import Target
from airflow_provider_databand_dbt.dbt_cloud.models import (
    ApiAccount,
    ApiEnvironment,
    ApiJob,
    ApiProject,
    ApiRun,
    Envelope,
    RawRunsDecoder,
    RunsPage,
)
from airflow_provider_databand_dbt.dbt_cloud.query import (
    MAX_PAGE_SIZE,
    last_page,
    optional_id,
    page_size_param,
    query_params,
    runs_query,
)
from airflow_provider_databand_dbt.dbt_cloud.ratelimit import TokenBucket
from airflow_provider_databand_dbt.dbt_cloud.retry import RetryPolicy
from airflow_provider_databand_dbt.dbt_cloud.shared_budget import BudgetStore, SharedBudget
from airflow_provider_databand_dbt.dbt_cloud.transport import (
    DEFAULT_MAX_ARTIFACT_BYTES,
    DEFAULT_MAX_RESPONSE_BYTES,
    DEFAULT_REQUEST_DEADLINE,
    DEFAULT_TIMEOUT,
    RequestListener,
    Transport,
    normalize_timeout,
    positive_limit,
)
from airflow_provider_databand_dbt.model.status import RunStatus

log = logging.getLogger(__name__)

DEFAULT_RUN_RELATED = ("run_steps", "job", "trigger")
# Fields dbt Cloud's trigger endpoint accepts besides "cause"; anything else is a typo we report.
TRIGGER_OVERRIDES = frozenset(
    {
        "git_sha",
        "git_branch",
        "azure_pull_request_id",
        "github_pull_request_id",
        "gitlab_merge_request_id",
        "schema_override",
        "dbt_version_override",
        "threads_override",
        "target_name_override",
        "generate_docs_override",
        "timeout_seconds_override",
        "steps_override",
    }
)
_MAX_CAUSE = 255

_RAW_RUNS_DECODER = RawRunsDecoder()
_DECODERS = {
    kind: msgspec.json.Decoder(Envelope[kind])  # type: ignore[valid-type]  # parametrized at runtime, one decoder per payload type
    for kind in (ApiAccount, ApiRun, ApiJob, ApiProject, ApiEnvironment, list[ApiRun], list[ApiJob], list[str])
}


class DbtCloudClient:
    """Talk to the dbt Cloud Administrative API (v2 runs/jobs/artifacts, v3 projects/environments).

    :param token: a dbt Cloud personal access token or service token (never logged or shown).
    :param api_url: host or access URL: ``cloud.getdbt.com``, ``emea.dbt.com``,
        ``https://ab123.us1.dbt.com``, or ``http://127.0.0.1:PORT`` for a local emulator.
    :param timeout: ``(connect, read)`` seconds for every request; for artifact downloads the
        read timeout applies to each chunk.
    :param retry: when to retry (429, 5xx, timeouts, connection errors) and for how long.
    :param max_requests_per_minute: ceiling on attempts per minute (token bucket shared by
        all threads using this client); None for no limit.
    :param request_listener: ``listener(method, route, outcome)`` after every HTTP attempt,
        e.g. for Prometheus metrics; ``route`` is the path template (bounded label) and
        ``outcome`` the status code or ``timeout``/``connection``/``truncated``/``too_large``.
    :param max_artifact_bytes: largest artifact :meth:`download_artifact` accepts (default 2 GiB).
    :param request_deadline: wall-clock seconds one attempt may take from connecting to the last
        byte, downloads included (default 600); stops hosts that trickle an answer. None: no limit.
    :param max_response_bytes: largest JSON answer once decompressed (default 32 MiB); a bigger
        one raises :class:`DbtCloudInvalidResponseError`. None: no limit.
    """

    def __init__(
        self,
        token: str,
        api_url: str = urls.DEFAULT_API_URL,
        *,
        timeout: float | tuple[float, float] = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        max_requests_per_minute: float | None = None,
        request_listener: RequestListener | None = None,
        max_artifact_bytes: int | None = DEFAULT_MAX_ARTIFACT_BYTES,
        request_deadline: float | None = DEFAULT_REQUEST_DEADLINE,
        max_response_bytes: int | None = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> None:
        base_url = urls.normalize_api_url(api_url)
        if retry is None:
            retry = RetryPolicy()
        elif not isinstance(retry, RetryPolicy):
            raise DbtCloudConfigError(f"retry must be a RetryPolicy, got {type(retry).__name__}")
        positive_limit(max_artifact_bytes, "max_artifact_bytes", integer=True)
        limiter = TokenBucket(max_requests_per_minute) if max_requests_per_minute is not None else None
        self.max_artifact_bytes = max_artifact_bytes
        self._transport = Transport(
            base_url,
            urls.validate_token(token),
            timeout=normalize_timeout(timeout),
            retry=retry,
            limiter=limiter,
            listener=request_listener,
            request_deadline=positive_limit(request_deadline, "request_deadline", integer=False),
            max_response_bytes=cast(
                Optional[int], positive_limit(max_response_bytes, "max_response_bytes", integer=True)
            ),
        )

    # -- plumbing -------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """``scheme://host[:port]`` the client talks to."""
        return self._transport.base_url

    @property
    def host(self) -> str:
        """The host (with a non-default port), the part of a run's identity in the tracking store."""
        return urlsplit(self.base_url).netloc

    @property
    def request_count(self) -> int:
        """HTTP attempts sent so far, retries included."""
        return self._transport.request_count

    @property
    def rate_limiter(self) -> TokenBucket | None:
        """The token bucket behind ``max_requests_per_minute`` (None when unlimited)."""
        return self._transport.limiter

    @property
    def request_budget(self) -> SharedBudget | None:
        """The account budget shared through a tracking store, when one is in use."""
        return self._transport.budget

    def use_request_budget(self, store: BudgetStore | None, owner: str = "") -> SharedBudget | None:
        """Draw every request from the budget of (host, account) kept in ``store`` (None: back to the local limit).

        Meant for trackers that know their tracking store (``sinks/request_budget.py`` does it for them);
        ``max_requests_per_minute`` stays the limit when the store has no budget or cannot be reached.

        :param owner: who we are, recorded with a 429 block (``host:pid`` and the tracker).
        """
        previous, self._transport.budget = self._transport.budget, None
        if previous is not None:
            previous.close()
        if store is not None:
            self._transport.budget = SharedBudget(store, self.host, local=self.rate_limiter, owner=owner)
        return self._transport.budget

    @property
    def retry(self) -> RetryPolicy:
        return self._transport.retry

    @property
    def timeout(self) -> tuple[float, float]:
        return self._transport.timeout

    def __repr__(self) -> str:
        return f"DbtCloudClient(api_url={self.base_url!r})"

    def close(self) -> None:
        """Abort requests in flight (safe from another thread, e.g. on shutdown) and release connections.

        A request stuck in another thread fails at once with :class:`DbtCloudConnectionError`, and so
        does every later request of this client.
        """
        self._transport.close()

    def deadline(self, seconds: float | None, what: str = "this operation"):
        """Context manager: every request this thread sends inside it, retries and waits included,
        ends within ``seconds`` (the innermost, earliest deadline wins); None for no limit.

        :param what: named in the timeout error, e.g. ``collecting run 42``.
        """
        return self._transport.overall_deadline(positive_limit(seconds, "deadline", integer=False), what)

    def __enter__(self) -> DbtCloudClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _get(self, route: str, target: Target, kind: Any, params: Any = None, **route_args: Any) -> Envelope:
        return self._transport.request_json("GET", route, target, _DECODERS[kind], params=params, **route_args)

    # -- accounts, projects, environments ---------------------------------------------------------

    def get_account(self, account_id: int | str) -> ApiAccount:
        """The account; the cheapest call that proves host, account id and token fit together."""
        account_id = urls.validate_id(account_id, "account_id")
        return self._get(urls.ACCOUNT, _account_target(account_id), ApiAccount, account_id=account_id).data

    def get_project(self, account_id: int | str, project_id: int | str) -> ApiProject:
        """One project (v3 API)."""
        account_id = urls.validate_id(account_id, "account_id")
        project_id = urls.validate_id(project_id, "project_id")
        target = Target("project", project_id, account_id)
        return self._get(urls.PROJECT, target, ApiProject, account_id=account_id, project_id=project_id).data

    def get_environment(self, account_id: int | str, environment_id: int | str) -> ApiEnvironment:
        """One environment (v3 API)."""
        account_id = urls.validate_id(account_id, "account_id")
        environment_id = urls.validate_id(environment_id, "environment_id")
        target = Target("environment", environment_id, account_id)
        return self._get(
            urls.ENVIRONMENT, target, ApiEnvironment, account_id=account_id, environment_id=environment_id
        ).data

    # -- runs -------------------------------------------------------------------------------------

    def get_run(
        self, account_id: int | str, run_id: int | str, include_related: Iterable[str] = DEFAULT_RUN_RELATED
    ) -> ApiRun:
        """One run, by default with its steps, job and trigger.

        :param include_related: related objects to embed (``run_steps``, ``job``, ``trigger``...).
        :raises DbtCloudInvalidResponseError: the answer is about another run or account than the one
            asked for (it would otherwise be tracked under the wrong key).
        """
        account_id = urls.validate_id(account_id, "account_id")
        run_id = urls.validate_id(run_id, "run_id")
        query = query_params(include_related=urls.json_list_param(include_related))
        target = Target("run", run_id, account_id)
        run = self._get(urls.RUN, target, ApiRun, query, account_id=account_id, run_id=run_id).data
        if run.id != run_id or (run.account_id is not None and run.account_id != account_id):
            raise DbtCloudInvalidResponseError(
                f"dbt Cloud answered a request for run {run_id} of account {account_id} on {self.host} with "
                f"run {run.id} of account {run.account_id}: refusing it, so no run is tracked under a wrong id; "
                "check that the API URL points at dbt Cloud (not a proxy or cache)",
                url=f"{self.base_url}{urls.RUN.format(account_id=account_id, run_id=run_id)}",
            )
        return run

    def list_runs(
        self,
        account_id: int | str,
        *,
        limit: int = MAX_PAGE_SIZE,
        offset: int = 0,
        order_by: str = "-id",
        job_id: int | str | None = None,
        project_id: int | str | None = None,
        environment_id: int | str | None = None,
        status: int | str | RunStatus | Iterable[int | str] | None = None,
        include_related: Iterable[str] = (),
        id_gt: int | None = None,
        run_ids: Iterable[int] | None = None,
    ) -> RunsPage:
        """One page of runs, newest first by default.

        :param limit: page size, 1..100 (dbt Cloud's maximum).
        :param offset: runs to skip.
        :param status: a numeric status or its label (``success``, ``error``...), or several of them.
        :param id_gt: only runs with a higher id (``id__gt``).
        :param run_ids: only these runs (``pk__in``, the spec's name; ``id__in`` is not in it).
        """
        envelope = self._runs_page(
            account_id,
            _DECODERS[list[ApiRun]],
            runs_query(
                limit=limit,
                offset=offset,
                order_by=order_by,
                job_id=job_id,
                project_id=project_id,
                environment_id=environment_id,
                status=status,
                include_related=include_related,
                id_gt=id_gt,
                run_ids=run_ids,
            ),
        )
        pagination = envelope.extra.pagination if envelope.extra else None
        return RunsPage(runs=envelope.data, total_count=pagination.total_count if pagination else None)

    def list_run_entries(self, account_id: int | str, **filters: Any) -> Envelope[list[Any]]:
        """One page of runs (the :meth:`list_runs` keywords) with each run left as plain JSON data.

        For callers that validate runs one by one, so a single malformed run cannot hide the rest of its page.
        """
        return self._runs_page(account_id, _RAW_RUNS_DECODER, runs_query(**filters))

    def _runs_page(self, account_id: int | str, decoder: Any, query: dict[str, Any]) -> Envelope:
        account_id = urls.validate_id(account_id, "account_id")
        return self._transport.request_json(
            "GET", urls.RUNS, _account_target(account_id), decoder, params=query, account_id=account_id
        )

    def iter_runs(self, account_id: int | str, *, page_size: int = MAX_PAGE_SIZE, **filters: Any) -> Iterator[ApiRun]:
        """Every run matching ``filters`` (the :meth:`list_runs` keywords), page by page.

        Stops at ``total_count``, at an empty or short page, or at a page with nothing new, so an
        API that misreports its total or ignores ``offset`` cannot make it loop forever. A run
        shifted onto the next page by a new run arriving meanwhile is yielded once.
        """
        page_size = page_size_param(page_size, "page_size")
        for name in ("limit", "offset"):
            if name in filters:
                raise DbtCloudConfigError(f"iter_runs pages by itself: pass page_size, not {name}")
        seen: set[int] = set()
        offset = 0
        while True:
            page = self.list_runs(account_id, limit=page_size, offset=offset, **filters)
            fresh = [run for run in page.runs if run.id not in seen]
            for run in fresh:
                seen.add(run.id)
                yield run
            offset += len(page.runs)
            if last_page(len(fresh), offset, page_size, len(page.runs), page.total_count):
                return

    def trigger_job_run(self, account_id: int | str, job_id: int | str, cause: str, **overrides: Any) -> ApiRun:
        """Start a run of a job; never sent twice (a lost answer is not retried).

        :param cause: why, shown in dbt Cloud (at most 255 characters; longer is cut).
        :param overrides: ``git_branch``, ``git_sha``, ``schema_override``, ``steps_override``,
            ``threads_override``, ``target_name_override``, ``timeout_seconds_override``...
        """
        account_id = urls.validate_id(account_id, "account_id")
        job_id = urls.validate_id(job_id, "job_id")
        if not isinstance(cause, str) or not cause.strip():
            raise DbtCloudConfigError(
                "cause must be a non-empty text saying why the job runs, e.g. 'Triggered by Airflow'"
            )
        unknown = sorted(set(overrides) - TRIGGER_OVERRIDES)
        if unknown:
            raise DbtCloudConfigError(
                f"unknown trigger override(s) {', '.join(unknown)}; "
                f"dbt Cloud accepts {', '.join(sorted(TRIGGER_OVERRIDES))}"
            )
        body = {"cause": cause.strip()[:_MAX_CAUSE], **{k: v for k, v in overrides.items() if v is not None}}
        target = Target("job", job_id, account_id)
        return self._transport.request_json(
            "POST",
            urls.JOB_RUN,
            target,
            _DECODERS[ApiRun],
            body=body,
            repeatable=False,
            account_id=account_id,
            job_id=job_id,
        ).data

    def rerun_job(self, account_id: int | str, job_id: int | str) -> ApiRun:
        """Retry the job's last failed run from the failure point; never sent twice."""
        account_id = urls.validate_id(account_id, "account_id")
        job_id = urls.validate_id(job_id, "job_id")
        return self._transport.request_json(
            "POST",
            urls.JOB_RERUN,
            Target("job", job_id, account_id),
            _DECODERS[ApiRun],
            body={},
            repeatable=False,
            account_id=account_id,
            job_id=job_id,
        ).data

    def cancel_run(self, account_id: int | str, run_id: int | str) -> ApiRun:
        """Ask dbt Cloud to cancel a run; safe to repeat, so it is retried like a read."""
        account_id = urls.validate_id(account_id, "account_id")
        run_id = urls.validate_id(run_id, "run_id")
        return self._transport.request_json(
            "POST",
            urls.RUN_CANCEL,
            Target("run", run_id, account_id),
            _DECODERS[ApiRun],
            account_id=account_id,
            run_id=run_id,
        ).data

    # -- jobs -------------------------------------------------------------------------------------

    def get_job(self, account_id: int | str, job_id: int | str) -> ApiJob:
        """One job (what the tracking store calls a pipeline)."""
        account_id = urls.validate_id(account_id, "account_id")
        job_id = urls.validate_id(job_id, "job_id")
        return self._get(urls.JOB, Target("job", job_id, account_id), ApiJob, account_id=account_id, job_id=job_id).data

    def list_jobs(
        self, account_id: int | str, project_id: int | str | None = None, environment_id: int | str | None = None
    ) -> list[ApiJob]:
        """All jobs of the account, optionally of one project/environment (pages fetched as needed)."""
        account_id = urls.validate_id(account_id, "account_id")
        filters = query_params(
            project_id=optional_id(project_id, "project_id"),
            environment_id=optional_id(environment_id, "environment_id"),
            order_by="id",
        )
        jobs: list[ApiJob] = []
        seen: set[int] = set()
        offset = 0
        while True:
            page = {**filters, "limit": MAX_PAGE_SIZE, "offset": offset}
            envelope = self._get(urls.JOBS, _account_target(account_id), list[ApiJob], page, account_id=account_id)
            fresh = [job for job in envelope.data if job.id not in seen]
            seen.update(job.id for job in fresh)
            jobs.extend(fresh)
            offset += len(envelope.data)
            pagination = envelope.extra.pagination if envelope.extra else None
            total = pagination.total_count if pagination else None
            if last_page(len(fresh), offset, MAX_PAGE_SIZE, len(envelope.data), total):
                return jobs

    # -- artifacts --------------------------------------------------------------------------------

    def list_artifacts(self, account_id: int | str, run_id: int | str, step: int | str | None = None) -> list[str]:
        """Artifact paths of a run (``manifest.json``, ``run_results.json``...), of one step if given."""
        account_id = urls.validate_id(account_id, "account_id")
        run_id = urls.validate_id(run_id, "run_id")
        query = query_params(step=optional_id(step, "step"))
        target = Target("run", run_id, account_id)
        return self._get(urls.RUN_ARTIFACTS, target, list[str], query, account_id=account_id, run_id=run_id).data

    def download_artifact(
        self,
        account_id: int | str,
        run_id: int | str,
        path: str,
        *,
        step: int | str | None = None,
        directory: str | os.PathLike | None = None,
        max_bytes: int | None = None,
    ) -> Path:
        """Stream one artifact to a new temp file and return its path; the caller deletes it.

        :param path: ``manifest.json``, ``run_results.json``, ``sources.json``...
        :param step: step index; without it dbt Cloud serves the last step that has the file.
        :param directory: where to create the temp file (default: the system temp dir).
        :param max_bytes: size limit for this file (default: the client's ``max_artifact_bytes``).
        :raises DbtCloudNotFoundError: the run or step has no such artifact.
        :raises ArtifactError: truncated or over the size limit (no partial file is left behind).
        """
        account_id = urls.validate_id(account_id, "account_id")
        run_id = urls.validate_id(run_id, "run_id")
        quoted = urls.validate_artifact_path(path)
        step_index = optional_id(step, "step")
        limit = self.max_artifact_bytes if max_bytes is None else max_bytes
        step_text = f" (step {step_index})" if step_index is not None else ""
        target = Target("artifact", path.strip(), account_id, detail=f"of run {run_id}{step_text}")
        return self._transport.download(
            urls.RUN_ARTIFACT,
            target,
            params=query_params(step=step_index),
            directory=directory,
            suffix="-" + posixpath.basename(path.strip()),
            max_bytes=limit,
            account_id=account_id,
            run_id=run_id,
            path=quoted,
        )


def _account_target(account_id: int) -> Target:
    """Lists and the account itself: a 404 there means the account is wrong for this host or token."""
    return Target("account", account_id, account_id)
