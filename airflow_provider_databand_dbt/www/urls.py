"""Addresses of the web view's pages, relative to wherever the app is mounted, plus links into Airflow.

Pages live at addresses people can guess and paste: ``/pipelines/{job_id}``, ``/runs/{run_id}``,
``/nodes/{unique_id}``. When the store holds several dbt Cloud hosts or accounts, links also carry
``?account=&host=`` so they never land on a disambiguation page.
"""
from __future__ import annotations

from typing import Any, Callable, Mapping, Optional
from urllib.parse import quote, urlencode

from airflow_provider_databand_dbt.tracking.read.models import SourceRow


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

    def pipeline(self, job_id: int, *, account_id: Optional[int] = None, host: Optional[str] = None,
                 **params: Any) -> str:
        return self.path(f"/pipelines/{int(job_id)}", **self._key(host, account_id), **params)

    def run(self, run_id: int, *, account_id: Optional[int] = None, host: Optional[str] = None,
            **params: Any) -> str:
        return self.path(f"/runs/{int(run_id)}", **self._key(host, account_id), **params)

    def runs(self, **params: Any) -> str:
        return self.path("/runs", **params)

    def node(self, unique_id: str, **params: Any) -> str:
        return self.path(f"/nodes/{quote(unique_id, safe='.-_')}", **params)

    def node_link(self, **params: Any) -> Callable[[str], str]:
        """``node`` for many ids with the same parameters (a Gantt links thousands of bars)."""
        prefix, suffix = self.path("/nodes/"), _query(params)
        return lambda unique_id: f"{prefix}{quote(unique_id, safe='.-_')}{suffix}"

    def nodes(self, **params: Any) -> str:
        return self.path("/nodes", **params)


def airflow_task_url(base: Optional[str], source: SourceRow) -> Optional[str]:
    """Link to the Airflow 3 task instance that tracked a run, or None when Airflow's address is unknown.

    :param base: Airflow's base URL (``[api] base_url``); ``""`` means the same server as this page.
    """
    if base is None or not source.dag_id or not source.task_id:
        return None
    parts = [base.rstrip("/"), "dags", quote(source.dag_id, safe="")]
    if source.airflow_run_id:
        parts += ["runs", quote(source.airflow_run_id, safe=""), "tasks", quote(source.task_id, safe="")]
        if source.map_index is not None and source.map_index >= 0:
            parts += ["mapped", str(source.map_index)]
    else:
        parts += ["tasks", quote(source.task_id, safe="")]
    return "/".join(parts)
