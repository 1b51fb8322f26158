"""Airflow trigger: the provider's run-status trigger, polling through our hook."""
from __future__ import annotations

from airflow_provider_databand_dbt.triggers.dbt import DbtCloudTrackingRunJobTrigger

__all__ = ["DbtCloudTrackingRunJobTrigger"]
