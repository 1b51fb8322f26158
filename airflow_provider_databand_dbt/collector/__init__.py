"""Turn one dbt Cloud run and its artifacts into a :class:`RunReport`. No Airflow import."""

from airflow_provider_databand_dbt.model.report import ArtifactMissing, NodeResult, RunReport, StepReport

__all__ = ["ArtifactMissing", "NodeResult", "RunReport", "StepReport"]
