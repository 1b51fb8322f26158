"""Airflow hook: the dbt Cloud provider's hook plus run tracking (``collect_run``)."""

from __future__ import annotations

from airflow_provider_databand_dbt.extras import extra_imports

with extra_imports("airflow", "the Airflow hook (airflow_provider_databand_dbt.hooks)"):
    from airflow_provider_databand_dbt.hooks.dbt import DbtCloudTrackingHook

__all__ = ["DbtCloudTrackingHook"]
