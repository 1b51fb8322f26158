"""The ``[databand_dbt]`` Airflow config section: where tracked runs are stored and browsed.

Every key can also be set as ``AIRFLOW__DATABAND_DBT__<KEY>`` (Airflow's own env convention).
"""

from __future__ import annotations

import os

from airflow_provider_databand_dbt.airflow_compat import conf

SECTION = "databand_dbt"
DEFAULT_WEB_URL = "http://127.0.0.1:8788"


def _conf_value(key: str) -> str | None:
    value = conf.get(SECTION, key, fallback=None)
    if not isinstance(value, str):
        return None
    return value.strip() or None


def airflow_tracking_url(explicit: str | None = None) -> str | None:
    """The tracking store URL for runs tracked from Airflow, or None to let the store pick its default.

    Order: ``explicit`` (an operator argument), ``[databand_dbt] tracking_url``, env
    ``DATABAND_DBT_TRACKING_URL``; None makes ``TrackingStore`` use a SQLite file under $AIRFLOW_HOME.
    """
    if explicit and explicit.strip():
        return explicit.strip()
    return _conf_value("tracking_url") or os.environ.get("DATABAND_DBT_TRACKING_URL") or None


def web_url() -> str:
    """Base URL of the tracking web view, without a trailing slash."""
    return (_conf_value("web_url") or DEFAULT_WEB_URL).rstrip("/")


def web_url_hint() -> str:
    """What the task log adds after a report link: how to open it when no web view is configured.

    The provider's registered default is the local ``databand-dbt ui`` address, so "not
    configured" is that address, whether it comes from the default or was never changed.
    """
    if web_url() != DEFAULT_WEB_URL:
        return ""
    return " (start the web view with `databand-dbt ui`, or set [databand_dbt] web_url to yours)"


def run_page_url(run_id: int | str) -> str:
    """The web view page of one tracked dbt Cloud run."""
    return f"{web_url()}/runs/{run_id}"
