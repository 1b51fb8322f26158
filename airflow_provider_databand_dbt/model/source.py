"""Who tracked a run: an Airflow task, a monitor syncer, the CLI or a direct API call."""

from __future__ import annotations

import socket
from datetime import datetime, timezone
from typing import Literal, Optional

import msgspec

SourceKind = Literal["airflow", "monitor", "webhook", "cli", "api"]


class TrackingSource(msgspec.Struct, kw_only=True):
    """One sighting of a run by a tracker; the store keeps one row per sighting.

    :param kind: airflow, monitor, webhook (a dbt Cloud webhook delivery), cli or api.
    :param name: syncer name for the monitor and webhooks, ``dag_id.task_id`` for Airflow, free text otherwise.
    """

    kind: SourceKind
    name: Optional[str] = None
    dag_id: Optional[str] = None
    task_id: Optional[str] = None
    airflow_run_id: Optional[str] = None
    try_number: Optional[int] = None
    map_index: Optional[int] = None
    hostname: Optional[str] = None
    tracked_at: Optional[datetime] = None

    def stamped(self) -> TrackingSource:
        """A copy with ``tracked_at`` and ``hostname`` filled in when missing."""
        return msgspec.structs.replace(
            self,
            tracked_at=self.tracked_at or datetime.now(timezone.utc),
            hostname=self.hostname or socket.gethostname(),
        )
