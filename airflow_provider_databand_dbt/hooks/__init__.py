"""Airflow hook: the dbt Cloud provider's hook plus run tracking (``collect_run``)."""
from __future__ import annotations

from airflow_provider_databand_dbt.hooks.dbt import DbtCloudTrackingHook

__all__ = ["DbtCloudTrackingHook"]
