"""The facets we attach, built with the client's generated classes (so each carries its official schema URL).

Job: ``jobType`` (BATCH, DBT, JOB/MODEL/TEST/SEED/SNAPSHOT) and ``sql`` (the compiled code). Run:
``parent``, ``processing_engine`` (dbt and its version), ``errorMessage`` and our ``dbt_cloud_run``
(ids, status and the run's page in dbt Cloud). Datasets: ``outputStatistics`` (rows affected) and
``dataQualityAssertions`` (a test's outcome, on the dataset of the model it tests).
"""

from __future__ import annotations

from typing import Optional

import attr
from openlineage.client.facet_v2 import (
    data_quality_assertions_dataset,
    error_message_run,
    job_type_job,
    output_statistics_output_dataset,
    parent_run,
    processing_engine_run,
    sql_job,
)
from openlineage.client.generated.base import RunFacet

from airflow_provider_databand_dbt.model.report import RunReport

DBT_CLOUD_RUN_FACET = "dbt_cloud_run"
# Where the custom facet's fields are described (docs/openlineage.md ships in the package's sdist).
DBT_CLOUD_RUN_SCHEMA = "https://pypi.org/project/airflow-provider-databand-dbt/#openlineage-dbt_cloud_run-facet"


def producer() -> str:
    """The URI naming this package (and its version) as the producer of every event and facet."""
    from airflow_provider_databand_dbt import __version__

    return f"https://pypi.org/project/airflow-provider-databand-dbt/{__version__}/"


@attr.define
class DbtCloudRunFacet(RunFacet):
    """Which dbt Cloud run this is, with a link to its page (``url``)."""

    host: str
    account_id: int
    run_id: int
    status: str
    job_id: Optional[int] = attr.field(default=None)
    project_id: Optional[int] = attr.field(default=None)
    environment_id: Optional[int] = attr.field(default=None)
    url: Optional[str] = attr.field(default=None)

    @staticmethod
    def _get_schema() -> str:
        return DBT_CLOUD_RUN_SCHEMA


def job_type(kind: str) -> job_type_job.JobTypeJobFacet:
    return job_type_job.JobTypeJobFacet(processingType="BATCH", integration="DBT", jobType=kind, producer=producer())


def sql(query: str, dialect: Optional[str]) -> sql_job.SQLJobFacet:
    return sql_job.SQLJobFacet(query=query, dialect=dialect, producer=producer())


def processing_engine(dbt_version: Optional[str]) -> Optional[processing_engine_run.ProcessingEngineRunFacet]:
    if not dbt_version:
        return None
    from airflow_provider_databand_dbt import __version__

    return processing_engine_run.ProcessingEngineRunFacet(
        version=dbt_version, name="dbt", openlineageAdapterVersion=__version__, producer=producer()
    )


def error_message(message: str) -> error_message_run.ErrorMessageRunFacet:
    return error_message_run.ErrorMessageRunFacet(message=message, programmingLanguage="SQL", producer=producer())


def dbt_cloud_run(report: RunReport) -> DbtCloudRunFacet:
    return DbtCloudRunFacet(
        host=report.host,
        account_id=report.account_id,
        run_id=report.run_id,
        status=report.status,
        job_id=report.job_id,
        project_id=report.project_id,
        environment_id=report.environment_id,
        url=report.url,
        producer=producer(),
    )


def parent(
    run_id: str, namespace: str, name: str, root: Optional[tuple[str, str, str]] = None
) -> parent_run.ParentRunFacet:
    """The parent run; ``root`` is ``(run_id, namespace, name)`` of the top of the hierarchy when known."""
    root_facet = None
    if root is not None:
        root_facet = parent_run.Root(
            run=parent_run.RootRun(runId=root[0]), job=parent_run.RootJob(namespace=root[1], name=root[2])
        )
    return parent_run.ParentRunFacet(
        run=parent_run.Run(runId=run_id),
        job=parent_run.Job(namespace=namespace, name=name),
        root=root_facet,
        producer=producer(),
    )


def output_statistics(rows: int) -> output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet:
    return output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet(rowCount=rows, producer=producer())


def assertions(
    test_name: str, success: bool, column: Optional[str], node_name: str, severity: Optional[str]
) -> data_quality_assertions_dataset.DataQualityAssertionsDatasetFacet:
    """One test's outcome, as the ``dataQualityAssertions`` facet of the dataset it tests."""
    assertion = data_quality_assertions_dataset.Assertion(
        assertion=test_name, success=success, column=column, name=node_name, severity=severity
    )
    return data_quality_assertions_dataset.DataQualityAssertionsDatasetFacet(
        assertions=[assertion], producer=producer()
    )
