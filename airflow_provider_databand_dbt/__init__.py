"""Run, watch and track dbt Cloud jobs: every run, step and node, in a store you can query.

``collect_data_from_dbt_cloud`` is the drop-in replacement for the Databand SDK call of the same name.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from airflow_provider_databand_dbt.model.report import RunReport

__all__ = ["__version__", "collect_data_from_dbt_cloud"]


def collect_data_from_dbt_cloud(
    dbt_cloud_account_id: int | str,
    dbt_cloud_api_token: str,
    dbt_job_run_id: int | str,
    dbt_api_url: str = "https://cloud.getdbt.com",
    **options: Any,
) -> RunReport:
    """Collect one dbt Cloud run, store it in the tracking store and return its report.

    Same first three parameters as the Databand SDK call. See
    :func:`airflow_provider_databand_dbt.api.collect_data_from_dbt_cloud` for ``options``.
    """
    from airflow_provider_databand_dbt.api import collect_data_from_dbt_cloud as _collect

    return _collect(dbt_cloud_account_id, dbt_cloud_api_token, dbt_job_run_id, dbt_api_url, **options)
