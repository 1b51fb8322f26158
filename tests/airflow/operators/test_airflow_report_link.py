"""The task log's report link says how to open it: ``databand-dbt ui`` when no web view is configured."""

from __future__ import annotations

import re

import pytest

pytest.importorskip("airflow")

from airflow_provider_databand_dbt.testing.emulator import HOURLY_JOB_ID

HINT = "start the web view with `databand-dbt ui`"


def _tracked_line(capfd, caplog, dag, task_context) -> str:
    from airflow_provider_databand_dbt.operators import DbtCloudRunAndTrackOperator

    run_id = DbtCloudRunAndTrackOperator(
        task_id="run_and_track", job_id=HOURLY_JOB_ID, check_interval=0.1, timeout=30
    ).execute(task_context)
    out, err = capfd.readouterr()
    # Airflow 2 logs through the standard library (caplog) and prints it too; Airflow 3 only prints.
    lines = [record.getMessage() for record in caplog.records] + (out + err).splitlines()
    matching = [line for line in lines if re.search(rf"Tracked dbt Cloud run {run_id}: success", line)]
    assert matching, lines
    line = matching[0]
    return line


def test_without_a_web_url_the_log_says_how_to_start_the_web_view(
    dag, dbt_cloud_conn, task_context, capfd, caplog, monkeypatch
):
    monkeypatch.delenv("AIRFLOW__DATABAND_DBT__WEB_URL", raising=False)
    line = _tracked_line(capfd, caplog, dag, task_context)
    assert "report: http://127.0.0.1:8788/runs/" in line
    assert HINT in line and "[databand_dbt] web_url" in line


def test_with_a_web_url_the_log_only_links_it(dag, dbt_cloud_conn, task_context, capfd, caplog, monkeypatch):
    monkeypatch.setenv("AIRFLOW__DATABAND_DBT__WEB_URL", "https://dbt-runs.example.com/")
    line = _tracked_line(capfd, caplog, dag, task_context)
    assert "report: https://dbt-runs.example.com/runs/" in line
    assert HINT not in line
