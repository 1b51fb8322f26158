"""``collect_data_from_dbt_cloud``: the Databand SDK's call, tracking one run through the tracking service."""

from __future__ import annotations

from typing import Any

from airflow_provider_databand_dbt.collector.collect import (
    DEFAULT_COLLECT_DEADLINE,
    Progress,
)
from airflow_provider_databand_dbt.dbt_cloud.urls import (
    DEFAULT_API_URL,
    validate_id,
    validate_token,
)
from airflow_provider_databand_dbt.model.report import RunReport
from airflow_provider_databand_dbt.model.source import TrackingSource
from airflow_provider_databand_dbt.sinks.service import tracking


def collect_data_from_dbt_cloud(
    dbt_cloud_account_id: int | str,
    dbt_cloud_api_token: str,
    dbt_job_run_id: int | str,
    dbt_api_url: str = DEFAULT_API_URL,
    *,
    store: Any = True,
    tracking_url: str | None = None,
    source: TrackingSource | None = None,
    client_options: dict[str, Any] | None = None,
    progress: Progress | None = None,
    collect_deadline: float | None = DEFAULT_COLLECT_DEADLINE,
) -> RunReport:
    """Collect one dbt Cloud run, store it in the tracking store and return its report.

    Drop-in replacement for the Databand SDK call of the same name (same first three parameters).
    The run also goes to every registered sink after the store (see ``airflow_provider_databand_dbt.sinks``).

    :param dbt_cloud_account_id: dbt Cloud account id (int or string of digits).
    :param dbt_cloud_api_token: a dbt Cloud personal access or service token; never logged or stored.
    :param dbt_job_run_id: the run id (int or string of digits).
    :param dbt_api_url: dbt Cloud host or access URL, e.g. ``emea.dbt.com`` or ``https://ab123.us1.dbt.com``.
    :param store: True for the tracking store at ``tracking_url`` (default store when None),
        a ``TrackingStore`` instance to use as is, or False to only return the report.
    :param tracking_url: SQLAlchemy URL of the tracking store, when ``store`` is True.
    :param source: who is tracking; defaults to ``TrackingSource(kind="api")``.
    :param client_options: extra keyword arguments for ``DbtCloudClient`` (timeout, retry,
        request_deadline, max_response_bytes, max_artifact_bytes...).
    :param progress: called with one line per step, e.g. for a CLI.
    :param collect_deadline: wall-clock seconds for the whole collection (default 1800; None: no limit).
    :raises DbtCloudConfigError: non-numeric ids, an empty token or a malformed URL.
    :raises DbtCloudError: the run could not be read.
    :raises TrackingError: the store could not be opened or could not save the run.
    """
    from airflow_provider_databand_dbt.dbt_cloud.client import DbtCloudClient

    account_id = validate_id(dbt_cloud_account_id, "dbt_cloud_account_id")
    run_id = validate_id(dbt_job_run_id, "dbt_job_run_id")
    token = validate_token(dbt_cloud_api_token)
    # The client first: a bad token or URL fails before the store is touched.
    with (
        DbtCloudClient(token, dbt_api_url, **(client_options or {})) as client,
        tracking(store, tracking_url, client=client, label=(source or TrackingSource(kind="api")).kind) as service,
    ):
        return service.track(client, account_id, run_id, source=source, progress=progress, deadline=collect_deadline)
