"""Airflow 3 plugin: the web view mounted in Airflow's API server, with an entry in the UI's navigation.

The view is served under ``/databand-dbt`` on the API server, behind Airflow's own login (a user
who may see the Airflow website may see the tracked runs), and reads the store configured by
``[databand_dbt] tracking_url`` (else ``DATABAND_DBT_TRACKING_URL``, else the SQLite default under
``$AIRFLOW_HOME``). Task-instance links point back into the same Airflow.
"""

from __future__ import annotations

import logging
from typing import Any

from airflow.plugins_manager import AirflowPlugin

log = logging.getLogger(__name__)

URL_PREFIX = "/databand-dbt"
VIEW_NAME = "dbt Cloud runs"


def _airflow_base_url() -> str:
    """Where task links point: ``[databand_dbt] airflow_base_url``, else this Airflow's ``[api] base_url``
    ("" = the same server)."""
    from airflow.configuration import conf

    chosen = conf.get("databand_dbt", "airflow_base_url", fallback="") or conf.get("api", "base_url", fallback="")
    return (chosen or "").strip().rstrip("/")


def _login_required() -> list[Any]:
    """A dependency that admits only users Airflow's auth manager lets see the website."""
    from airflow.api_fastapi.auth.managers.models.resource_details import AccessView
    from airflow.api_fastapi.core_api.security import requires_access_view
    from fastapi import Depends

    return [Depends(requires_access_view(AccessView.WEBSITE))]


def _fastapi_apps() -> list[dict[str, Any]]:
    try:
        dependencies = _login_required()
    except ImportError:
        # Airflow 2 has no FastAPI API server: there is nothing to mount the view in.
        log.debug("Airflow's FastAPI security module is missing: databand-dbt web view not mounted")
        return []
    from airflow_provider_databand_dbt.hooks.config import airflow_tracking_url
    from airflow_provider_databand_dbt.www.app import create_app

    app = create_app(airflow_tracking_url, airflow_url=_airflow_base_url(), dependencies=dependencies)
    return [{"app": app, "url_prefix": URL_PREFIX, "name": VIEW_NAME}]


class DatabandDbtPlugin(AirflowPlugin):
    """Mounts the databand-dbt web view in Airflow 3 (``/databand-dbt``) and adds it to the Browse menu."""

    name = "databand_dbt"
    fastapi_apps = _fastapi_apps()
    external_views = [
        {
            "name": VIEW_NAME,
            # Relative to Airflow's base URL, so it also works behind a proxy path.
            "href": URL_PREFIX.lstrip("/") + "/",
            "destination": "nav",
            "category": "browse",
            "url_route": "databand-dbt",
        }
    ]
