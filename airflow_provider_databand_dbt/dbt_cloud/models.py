"""Typed dbt Cloud API objects: only the fields we use are decoded, unknown ones are ignored.

dbt Cloud adds fields often and sends many we never read; decoding into msgspec Structs keeps
memory small and turns a changed shape into a clear :class:`DbtCloudInvalidResponseError`
instead of a ``KeyError`` deep in the collector.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any, Generic, Optional, TypeVar

import msgspec

from airflow_provider_databand_dbt.model.status import RunStatus, status_label

T = TypeVar("T")

# Timestamps: msgspec's datetime decoder accepts dbt Cloud's "2026-11-25 10:00:00.123456+00:00"
# as well as the ISO "T"/"Z" forms and null; naive values are dbt Cloud's UTC (fixed in _utc).


def _utc(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value


class _Timestamped(msgspec.Struct):
    """Mixin making naive timestamps explicit UTC after decoding."""

    def __post_init__(self) -> None:
        for name in self.__struct_fields__:
            value = getattr(self, name)
            if isinstance(value, datetime) and value.tzinfo is None:
                setattr(self, name, _utc(value))


class ApiStatus(msgspec.Struct):
    """The ``status`` block of every dbt Cloud answer."""

    code: Optional[int] = None
    is_success: Optional[bool] = None
    user_message: Optional[str] = None
    developer_message: Optional[str] = None


class ApiPagination(msgspec.Struct):
    count: Optional[int] = None
    total_count: Optional[int] = None


class ApiExtra(msgspec.Struct):
    pagination: Optional[ApiPagination] = None


class Envelope(msgspec.Struct, Generic[T]):
    """``{"status": ..., "data": ..., "extra": ...}``: the wrapper around every JSON answer."""

    data: T
    status: Optional[ApiStatus] = None
    extra: Optional[ApiExtra] = None


class ErrorEnvelope(msgspec.Struct):
    """Just the status of an error answer, to quote dbt Cloud's own message."""

    status: Optional[ApiStatus] = None


class ApiAccount(msgspec.Struct):
    id: int
    name: Optional[str] = None
    state: Optional[int] = None
    plan: Optional[str] = None


class ApiTrigger(_Timestamped):
    """Why a run started (``cause``) and the overrides it ran with."""

    id: Optional[int] = None
    cause: Optional[str] = None
    job_definition_id: Optional[int] = None
    git_branch: Optional[str] = None
    git_sha: Optional[str] = None
    schema_override: Optional[str] = None
    steps_override: Optional[list[str]] = None
    created_at: Optional[datetime] = None
    # The spec's CauseCategoryEnum: api, ci, scheduled, ui, rerun, job completion, merge...
    cause_category: Optional[str] = None


class ApiJob(_Timestamped):
    """A dbt Cloud job: what our store calls a pipeline."""

    id: int
    account_id: Optional[int] = None
    project_id: Optional[int] = None
    environment_id: Optional[int] = None
    name: Optional[str] = None
    description: Optional[str] = None
    execute_steps: list[str] = msgspec.field(default_factory=list)
    state: Optional[int] = None
    job_type: Optional[str] = None
    dbt_version: Optional[str] = None
    generate_docs: Optional[bool] = None
    run_generate_sources: Optional[bool] = None
    created_at: Optional[datetime] = None
    updated_at: Optional[datetime] = None


class ApiRunStep(_Timestamped):
    """One step of a run (``dbt build``...); its artifacts are fetched with ``step=index``."""

    id: Optional[int] = None
    index: int = 0
    name: Optional[str] = None
    status: int = 0
    run_id: Optional[int] = None
    account_id: Optional[int] = None
    status_humanized: Optional[str] = None
    created_at: Optional[datetime] = None
    started_at: Optional[datetime] = None
    finished_at: Optional[datetime] = None
    duration: Optional[str] = None

    @property
    def status_label(self) -> str:
        return status_label(self.status)


class ApiRun(_Timestamped):
    """A dbt Cloud run, optionally with its job, trigger and steps (``include_related``)."""

    id: int
    status: int
    account_id: Optional[int] = None
    job_definition_id: Optional[int] = None
    job_id: Optional[int] = None
    project_id: Optional[int] = None
    environment_id: Optional[int] = None
    trigger_id: Optional[int] = None
    status_humanized: Optional[str] = None
    status_message: Optional[str] = None
    dbt_version: Optional[str] = None
    git_branch: Optional[str] = None
    git_sha: Optional[str] = None
    created_at: Optional[datetime] = None
    updated_at: Optional[datetime] = None
    dequeued_at: Optional[datetime] = None
    started_at: Optional[datetime] = None
    finished_at: Optional[datetime] = None
    href: Optional[str] = None
    in_progress: Optional[bool] = None
    is_complete: Optional[bool] = None
    is_success: Optional[bool] = None
    is_error: Optional[bool] = None
    is_cancelled: Optional[bool] = None
    artifacts_saved: Optional[bool] = None
    has_docs_generated: Optional[bool] = None
    has_sources_generated: Optional[bool] = None
    # Retry from failure (v2 spec, RunResponse): the run this one retries; see collector/retry_link.py.
    retrying_run_id: Optional[int] = None
    can_retry: Optional[bool] = None
    retry_not_supported_reason: Optional[str] = None
    trigger: Optional[ApiTrigger] = None
    job: Optional[ApiJob] = None
    run_steps: Optional[list[ApiRunStep]] = None

    def __post_init__(self) -> None:
        super().__post_init__()
        # dbt Cloud sends both names for the job id; older answers only one of them.
        if self.job_id is None:
            self.job_id = self.job_definition_id
        if self.job_definition_id is None:
            self.job_definition_id = self.job_id

    @property
    def status_label(self) -> str:
        """``queued``, ``running``, ``success``, ``error``, ``cancelled``... or ``unknown``."""
        return status_label(self.status)

    @property
    def is_terminal(self) -> bool:
        """True once the run can no longer change (success, error, cancelled)."""
        try:
            return RunStatus(self.status).is_terminal
        except ValueError:
            return bool(self.is_complete)


class ApiProject(msgspec.Struct):
    id: int
    account_id: Optional[int] = None
    name: Optional[str] = None
    dbt_project_subdirectory: Optional[str] = None


class ApiEnvironment(msgspec.Struct):
    id: int
    account_id: Optional[int] = None
    project_id: Optional[int] = None
    name: Optional[str] = None
    type: Optional[str] = None
    deployment_type: Optional[str] = None
    dbt_version: Optional[str] = None


class RunsPage(msgspec.Struct):
    """One page of ``list_runs``; ``total_count`` is None when dbt Cloud did not say."""

    runs: list[ApiRun]
    total_count: Optional[int] = None


class RawRunsDecoder:
    """Decode a runs page with each run left as plain JSON data, for callers that check runs one by one.

    msgspec refuses a whole body over one lone UTF-16 surrogate; Python's parser accepts it, so one
    malformed run cannot hide the rest of its page.
    """

    _envelope = Envelope[list[Any]]

    def decode(self, content: bytes) -> Envelope[list[Any]]:
        try:
            data = msgspec.json.decode(content)
        except msgspec.DecodeError:
            try:
                data = json.loads(content)
            except ValueError as exc:
                raise msgspec.DecodeError(str(exc)) from None
        return msgspec.convert(data, self._envelope)
