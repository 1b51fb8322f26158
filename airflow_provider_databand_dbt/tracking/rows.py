"""What the store's read and write APIs return: plain msgspec Structs, timestamps timezone-aware in UTC.

``RunRow`` is the reader's (``tracking/read/models.py``), re-exported here: one struct for a stored run.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal, Optional

import msgspec

from airflow_provider_databand_dbt.tracking.read.models import RunRow

__all__ = ["MonitorCursor", "NodeHistoryRow", "PipelineRow", "RunRow", "SaveAction", "SaveOutcome"]

SaveAction = Literal["created", "updated", "kept_newer"]


class SaveOutcome(msgspec.Struct, frozen=True, kw_only=True):
    """What ``save_report`` did with a run.

    :param run_pk: the run's row id in the store (stable across re-saves).
    :param action: ``created`` (first sighting), ``updated`` (replaced with this report) or
        ``kept_newer`` (the stored run had already finished and this report is an older in-progress
        snapshot, so the stored run was kept; the sighting is still recorded as a source).
    """

    run_pk: int
    action: SaveAction


class PipelineRow(msgspec.Struct, kw_only=True):
    """One tracked dbt Cloud job with its latest names, run count and most recent run (by created_at, run id)."""

    pipeline_id: int
    host: str
    account_id: int
    job_id: int
    name: Optional[str] = None
    project_id: Optional[int] = None
    project_name: Optional[str] = None
    environment_id: Optional[int] = None
    environment_name: Optional[str] = None
    first_seen_at: datetime
    updated_at: datetime
    run_count: int = 0
    last_run_id: Optional[int] = None
    last_status: Optional[str] = None
    last_run_at: Optional[datetime] = None
    last_finished_at: Optional[datetime] = None


class NodeHistoryRow(msgspec.Struct, kw_only=True):
    """One node's result in one run, for "how has this model/test behaved lately"."""

    run_pk: int
    host: str
    account_id: int
    run_id: int
    job_id: Optional[int] = None
    run_status: str
    run_created_at: Optional[datetime] = None
    step_index: int
    unique_id: str
    status: str
    execution_time: Optional[float] = None
    rows_affected: Optional[int] = None
    failures: Optional[int] = None
    message: Optional[str] = None


class MonitorCursor(msgspec.Struct, kw_only=True):
    """Where a monitor syncer stopped, so a restarted monitor resumes instead of starting over.

    :param syncer: the syncer's name (one cursor per syncer).
    :param last_run_id: highest run id already handled; newer runs are fetched next.
    :param active_run_ids: runs seen in progress, to poll again until they finish.
    :param backfill_done: whether the optional backfill window has been walked.
    :param updated_at: set by the store on save.
    """

    syncer: str
    host: str
    account_id: int
    last_run_id: Optional[int] = None
    active_run_ids: list[int] = []
    backfill_done: bool = False
    updated_at: Optional[datetime] = None
