"""Airflow trigger: the provider's run-status trigger, polling through our hook."""

from __future__ import annotations

from airflow_provider_databand_dbt.extras import extra_imports

with extra_imports("airflow", "the Airflow trigger (airflow_provider_databand_dbt.triggers)"):
    from airflow_provider_databand_dbt.triggers.dbt import DbtCloudTrackingRunJobTrigger

__all__ = ["DbtCloudTrackingRunJobTrigger"]
