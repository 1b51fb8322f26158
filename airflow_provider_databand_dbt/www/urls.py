"""Addresses of the web view's pages, relative to wherever the app is mounted, plus links into Airflow.

Pages live at addresses people can guess and paste: ``/pipelines/{job_id}``, ``/runs/{run_id}``,
``/nodes/{unique_id}``. When the store holds several dbt Cloud hosts or accounts, links also carry
``?account=&host=`` so they never land on a disambiguation page.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Callable, Optional
from urllib.parse import quote, urlencode

from airflow_provider_databand_dbt.airflow_links import airflow_task_url  # noqa: F401 - pages and API import it here


def _query(params: Mapping[str, Any]) -> str:
    cleaned = {k: v for k, v in params.items() if v is not None and v != ""}
    return f"?{urlencode(cleaned)}" if cleaned else ""


class Urls:
    """Builds page links for one request.

    :param root: the path the app is mounted under (``""`` standalone, ``/databand-dbt`` in Airflow).
    :param qualify: add ``account`` and ``host`` to pipeline and run links (several accounts in the store).
    """

    def __init__(self, root: str = "", *, qualify: bool = False) -> None:
        self.root = root.rstrip("/")
        self.qualify = qualify

    def path(self, path: str, **params: Any) -> str:
        return f"{self.root}{path}{_query(params)}"

    def home(self, **params: Any) -> str:
        return self.path("/", **params)

    def static(self, name: str) -> str:
        return self.path(f"/static/{name}")

    def _key(self, host: Optional[str], account_id: Optional[int]) -> dict[str, Any]:
        return {"account": account_id, "host": host} if self.qualify else {}

    def pipeline(
        self, job_id: int, *, account_id: Optional[int] = None, host: Optional[str] = None, **params: Any
    ) -> str:
        return self.path(f"/pipelines/{int(job_id)}", **self._key(host, account_id), **params)

    def run(self, run_id: int, *, account_id: Optional[int] = None, host: Optional[str] = None, **params: Any) -> str:
        return self.path(f"/runs/{int(run_id)}", **self._key(host, account_id), **params)

    def runs(self, **params: Any) -> str:
        return self.path("/runs", **params)

    def incidents(self, **params: Any) -> str:
        return self.path("/incidents", **params)

    def node(self, unique_id: str, **params: Any) -> str:
        return self.path(f"/nodes/{quote(unique_id, safe='.-_')}", **params)

    def node_link(self, **params: Any) -> Callable[[str], str]:
        """``node`` for many ids with the same parameters (a Gantt links thousands of bars)."""
        prefix, suffix = self.path("/nodes/"), _query(params)
        return lambda unique_id: f"{prefix}{quote(unique_id, safe='.-_')}{suffix}"

    def nodes(self, **params: Any) -> str:
        return self.path("/nodes", **params)
