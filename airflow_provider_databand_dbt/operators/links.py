"""Old home of the extra link: DAGs serialized before 0.2 name ``operators.links.DbtCloudTrackedRunLink``."""

from __future__ import annotations

from airflow_provider_databand_dbt.utils.links import DbtCloudTrackedRunLink

__all__ = ["DbtCloudTrackedRunLink"]
