"""Airflow sensor: wait for an existing dbt Cloud run like the provider does, then track it."""
from __future__ import annotations

from airflow_provider_databand_dbt.sensors.dbt import DbtCloudRunAndTrackSensor

__all__ = ["DbtCloudRunAndTrackSensor"]
