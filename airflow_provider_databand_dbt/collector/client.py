"""The dbt Cloud client as the collector uses it: the seam a test double or another client must fill.

``DbtCloudClient`` satisfies it; naming only what collecting needs keeps the collector honest about
its requests (the run, its project and environment, and artifacts) and lets trackers pass any client.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Protocol


class CollectorClient(Protocol):
    """What ``collect_run`` calls on a dbt Cloud client."""

    @property
    def host(self) -> str:
        """``host[:port]``, part of a run's identity in the tracking store."""
        ...

    @property
    def base_url(self) -> str:
        """``scheme://host[:port]``, for the run's dbt Cloud URL."""
        ...

    def deadline(self, seconds: float | None, what: str = ...) -> AbstractContextManager[Any]:
        """Every request inside ends within ``seconds``."""
        ...

    def get_run(self, account_id: int | str, run_id: int | str, include_related: Iterable[str] = ...) -> Any:
        """The run, with the related objects asked for."""
        ...

    def get_project(self, account_id: int | str, project_id: int | str) -> Any:
        """A project, for its name."""
        ...

    def get_environment(self, account_id: int | str, environment_id: int | str) -> Any:
        """An environment, for its name."""
        ...

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
        """One artifact streamed to a temp file the caller deletes."""
        ...
