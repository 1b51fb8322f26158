"""Retry chains end to end: emulator retries, the real collector, SQLite and PostgreSQL, the web view over HTTP.

A run that failed and was retried twice (the second retry passed) is one chain: the Run page says
"Retry 2 of run N, which failed at step S", the JSON API gives the chain, and the pipeline's success
rate counts the chain once, by its last run.
"""

from __future__ import annotations

import subprocess

import httpx
import pytest
from ui_process import running_ui
from web_fill import monitor_source

from airflow_provider_databand_dbt.dbt_cloud.client import DbtCloudClient
from airflow_provider_databand_dbt.sinks.service import TrackingService
from airflow_provider_databand_dbt.testing.emulator import DEMO_ACCOUNT_ID, DEMO_TOKEN, HOURLY_JOB_ID
from airflow_provider_databand_dbt.tracking.store import TrackingStore

ACCOUNT = f"/api/v2/accounts/{DEMO_ACCOUNT_ID}"


def _post(emulator, path: str, body: dict | None = None) -> int:
    response = httpx.post(
        f"{emulator.url}{ACCOUNT}{path}", json=body or {}, headers={"Authorization": f"Token {DEMO_TOKEN}"}
    )
    assert response.status_code == 200, response.text
    return response.json()["data"]["id"]


@pytest.fixture()
def chain(emulator, tracking_url):
    """``(failed, retry 1, retry 2)`` made in the emulator and collected out of order into the store."""
    emulator.set_lifecycle(0.0, 0.0)
    emulator.state.set_run_outcome(HOURLY_JOB_ID, "error")
    failed = _post(emulator, f"/jobs/{HOURLY_JOB_ID}/run/", {"cause": "Triggered by schedule"})
    first = _post(emulator, f"/runs/{failed}/retry/")
    emulator.state.set_run_outcome(HOURLY_JOB_ID, "success")
    second = _post(emulator, f"/jobs/{HOURLY_JOB_ID}/rerun/")
    with DbtCloudClient(DEMO_TOKEN, api_url=emulator.url) as client, TrackingStore(tracking_url) as store:
        for run_id in (second, failed, first):
            TrackingService(store, []).track(client, DEMO_ACCOUNT_ID, run_id, source=monitor_source())
    return failed, first, second


@pytest.fixture()
def web(tracking_url):
    with running_ui(tracking_url) as base:
        yield base


def test_run_page_and_api_show_the_chain(chain, web):
    failed, first, second = chain
    api = httpx.get(f"{web}/api/runs/{second}").json()
    assert api["retry_of_run_id"] == first
    links = api["retry_chain"]
    assert links["first_run_id"] == failed and links["position"] == 2
    assert [(r["run_id"], r["status"]) for r in links["runs"]] == [
        (failed, "error"),
        (first, "error"),
        (second, "success"),
    ]
    step = links["failed_step"]
    assert step is not None and step >= 1

    page = httpx.get(f"{web}/runs/{second}").text
    assert f'Retry 2 of run <a href="/runs/{failed}">{failed}</a>, which failed at step {step}.' in page
    middle = httpx.get(f"{web}/runs/{first}").text
    assert "Retry 1 of run" in middle and f'The chain ended with run <a href="/runs/{second}">{second}</a>' in middle
    start = httpx.get(f"{web}/runs/{failed}").text
    assert f"This run failed at step {step} and was retried 2 times." in start
    assert httpx.get(f"{web}/api/runs/{failed}").json()["retry_of_run_id"] is None


def test_success_rate_counts_a_chain_once(chain, web):
    pipelines = httpx.get(f"{web}/api/pipelines").json()
    (hourly,) = [p for p in pipelines["items"] if p["job_id"] == HOURLY_JOB_ID]
    assert hourly["run_count"] == 3 and hourly["success_rate"] == 1.0  # one chain, and it passed
    assert "100%" in httpx.get(f"{web}/").text


def test_cli_show_names_the_run_retried(chain, tracking_url):
    import sys

    failed, first, second = chain
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "airflow_provider_databand_dbt.cli",
            "show",
            str(second),
            "--tracking-url",
            tracking_url,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert f"retry of run: {first}" in result.stdout
