"""A run's report as it is now, without artifacts: what a ``job.run.started`` webhook records.

One GET of the run (with its steps, job and trigger) plus the project and environment names, which
a long-lived caller caches. Steps are recorded without nodes; the store never removes nodes an
earlier collection stored, and the full collection when the run completes adds them.
"""

from __future__ import annotations

from airflow_provider_databand_dbt.collector.assemble import run_report, step_report
from airflow_provider_databand_dbt.collector.client import CollectorClient
from airflow_provider_databand_dbt.collector.collect import RELATED, _execute_steps, _name_or_none
from airflow_provider_databand_dbt.collector.steps import plan_step
from airflow_provider_databand_dbt.model.report import RunReport
from airflow_provider_databand_dbt.model.status import TERMINAL_LABELS, status_label


def fetch_run(client: CollectorClient, account_id: int, run_id: int):
    """The run with the related objects a report needs (one request)."""
    return client.get_run(account_id, run_id, include_related=RELATED)


def snapshot_report(client: CollectorClient, account_id: int, run) -> RunReport:
    """The report of ``run`` (as :func:`fetch_run` returns it) with its steps and no node results."""
    project_name = _name_or_none(client.get_project, "project", account_id, run.project_id, run.id)
    environment_name = _name_or_none(client.get_environment, "environment", account_id, run.environment_id, run.id)
    execute_steps = _execute_steps(run)
    steps = [
        step_report(
            step,
            plan_step(step.index, step.name or "", status_label(step.status) in TERMINAL_LABELS, execute_steps),
            [],
            [],
        )
        for step in sorted(run.run_steps or [], key=lambda step: step.index)
    ]
    return run_report(
        run,
        host=client.host,
        base_url=client.base_url,
        account_id=account_id,
        project_name=project_name,
        environment_name=environment_name,
        steps=steps,
    )
