"""Airflow operator: trigger a dbt Cloud job like the provider does, then track the run."""

from __future__ import annotations

from airflow_provider_databand_dbt.extras import extra_imports

with extra_imports("airflow", "the Airflow operator (airflow_provider_databand_dbt.operators)"):
    from airflow_provider_databand_dbt.operators.dbt import (
        DbtCloudJobArgumentsError,
        DbtCloudRunAndTrackOperator,
    )
    from airflow_provider_databand_dbt.utils.links import DbtCloudTrackedRunLink
    from airflow_provider_databand_dbt.utils.tracking import (
        DbtCloudTrackingError,
        TrackingSummary,
    )

__all__ = [
    "DbtCloudJobArgumentsError",
    "DbtCloudRunAndTrackOperator",
    "DbtCloudTrackedRunLink",
    "DbtCloudTrackingError",
    "TrackingSummary",
]
