"""Airflow sensor: wait for an existing dbt Cloud run like the provider does, then track it."""

from __future__ import annotations

from airflow_provider_databand_dbt.extras import extra_imports

with extra_imports("airflow", "the Airflow sensor (airflow_provider_databand_dbt.sensors)"):
    from airflow_provider_databand_dbt.sensors.dbt import DbtCloudRunAndTrackSensor

__all__ = ["DbtCloudRunAndTrackSensor"]
