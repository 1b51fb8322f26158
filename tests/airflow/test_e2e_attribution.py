"""Who triggered a run, end to end: runs triggered through the provider's plain operator (its default text
cause and its OpenLineage JSON cause) and through ours, against the emulator; then seen only by the monitor
(a real subprocess, no Airflow source recorded) and shown by ``databand-dbt show`` / ``runs`` (subprocesses),
the web page and the JSON API of ``databand-dbt ui`` (real HTTP), with the Airflow link present or absent
as configured.
"""

from __future__ import annotations

import html
import json
import os
import subprocess
import sys
import time

import httpx
import pytest

pytest.importorskip("airflow")

from dbt_airflow_helpers import FakeTaskInstance, connection_json, make_operator
from e2e_tls_proxy import TlsProxy
from required_services import needs_extra

from airflow_provider_databand_dbt.testing.emulator import DEMO_ACCOUNT_ID, DEMO_TOKEN, HOURLY_JOB_ID

CLI = [sys.executable, "-m", "airflow_provider_databand_dbt.cli"]
DAG_ID = "sales.daily-v2"
AIRFLOW = "http://airflow.example:8080"
RUN_ID = "scheduled__2026-12-06T10:00:00+00:00"
ENCODED_RUN = "scheduled__2026-12-06T10%3A00%3A00%2B00%3A00"
# As the OpenLineage macros name them: job "<dag_id>.<task_id>", root job "<dag_id>", UUID run ids.
OPENLINEAGE_FACET = {
    "parent": {
        "run": {"runId": "01938f5e-6c1d-7bb8-a2c5-0d4e5f6a7b8c"},
        "job": {"namespace": "default", "name": f"{DAG_ID}.lineage_task"},
    },
    "root": {"run": {"runId": "01938f5e-6c1d-7bb8-a2c5-0d4e5f6a7b8d"}, "job": {"namespace": "default", "name": DAG_ID}},
}


def _env(tracking_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith("AIRFLOW_BASE_URL") and k != "AIRFLOW__API__BASE_URL"}
    return {**env, "DATABAND_DBT_TRACKING_URL": tracking_url, "DBT_CLOUD_API_TOKEN": DEMO_TOKEN, **extra}


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    result = subprocess.run([*CLI, *args], env=env, capture_output=True, text=True, timeout=180, check=False)
    assert result.returncode == 0, result.stderr
    return result


def _context(task_id: str, map_index: int = -1) -> dict:
    ti = FakeTaskInstance(dag_id=DAG_ID, task_id=task_id, run_id=RUN_ID, map_index=map_index)
    return {"ti": ti, "task_instance": ti, "run_id": RUN_ID}


@pytest.fixture()
def sales_dag():
    from airflow.providers.common.compat.sdk import DAG

    with DAG(dag_id=DAG_ID, schedule=None) as dag:
        yield dag


@pytest.fixture()
def triggered(sales_dag, dbt_cloud_conn, tmp_path, monkeypatch):
    """dbt Cloud run ids by how they were triggered; the operators track into a store the readers never see."""
    from airflow.providers.dbt.cloud.operators.dbt import DbtCloudRunJobOperator
    from airflow.providers.dbt.cloud.utils import openlineage as provider_openlineage

    # The provider's hook speaks https only: an https front for the emulator.
    proxy = TlsProxy(dbt_cloud_conn.port, tmp_path).start()
    monkeypatch.setenv("AIRFLOW_CONN_DBT_CLOUD_TLS", connection_json(dbt_cloud_conn, host=proxy.host))
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(proxy.cert_path))
    runs = {}
    plain = DbtCloudRunJobOperator(
        task_id="plain_task",
        job_id=HOURLY_JOB_ID,
        wait_for_termination=False,
        dbt_cloud_conn_id="dbt_cloud_tls",
        openlineage_inject_parent_job_info=False,
    )
    runs["provider"] = plain.execute(_context("plain_task"))
    # The provider's own cause builder; only the OpenLineage provider (not installed here) is replaced by
    # the facet its macros would give for this task.
    monkeypatch.setattr(provider_openlineage, "_get_openlineage_parent_facet_dict", lambda ti: OPENLINEAGE_FACET)
    lineage = DbtCloudRunJobOperator(
        task_id="lineage_task",
        job_id=HOURLY_JOB_ID,
        wait_for_termination=False,
        dbt_cloud_conn_id="dbt_cloud_tls",
        openlineage_inject_parent_job_info=True,
    )
    runs["openlineage"] = lineage.execute(_context("lineage_task"))
    proxy.stop()
    ours = make_operator(
        task_id="grp.load_orders",
        job_id=HOURLY_JOB_ID,
        wait_for_termination=False,
        tracking_url=f"sqlite:///{tmp_path / 'operator.db'}",
    )
    runs["ours"] = ours.execute(_context("grp.load_orders", map_index=2))
    deadline = time.monotonic() + 30
    while any(dbt_cloud_conn.run_status(run) not in (10, 20, 30) for run in runs.values()):
        assert time.monotonic() < deadline, "the emulator's runs did not finish"
        time.sleep(0.1)
    return runs


@pytest.fixture()
def monitored(triggered, dbt_cloud_conn, tracking_url, tmp_path):
    """The runs as only the monitor saw them (one pass over the job)."""
    config = tmp_path / "monitor.cfg"
    config.write_text(
        "[dbt_monitor]\nprometheus_port = 0\ninterval = 0.3\nlease_seconds = 0\nnumber_of_iterations = 1\n\n"
        f"[dbt_monitor.syncer.main]\naccount_id = {DEMO_ACCOUNT_ID}\napi_url = {dbt_cloud_conn.url}\n"
        f"api_token_env = DBT_CLOUD_API_TOKEN\nbackfill = 1d\njob_ids = {HOURLY_JOB_ID}\n"
    )
    _cli("monitor", "--config", str(config), env=_env(tracking_url))
    return triggered


@needs_extra("monitor")
def test_the_cli_shows_who_triggered_each_run(monitored, tracking_url):
    linked = _env(tracking_url, DATABAND_DBT_AIRFLOW_BASE_URL=AIRFLOW)
    shown = _cli("show", str(monitored["ours"]), env=linked).stdout
    assert (f"triggered by: Airflow DAG {DAG_ID}, task grp.load_orders [2], run {RUN_ID}, try 1") in shown
    assert f"airflow: {AIRFLOW}/dags/{DAG_ID}/runs/{ENCODED_RUN}/tasks/grp.load_orders/mapped/2" in shown
    assert "tracked by: monitor" in shown and "tracked by: airflow" not in shown

    provider = _cli("show", str(monitored["provider"]), env=linked).stdout
    assert f"triggered by: Airflow DAG {DAG_ID}, task plain_task\n" in provider
    assert f"airflow: {AIRFLOW}/dags/{DAG_ID}/tasks/plain_task" in provider

    data = json.loads(_cli("show", str(monitored["openlineage"]), "--json", env=linked).stdout)
    assert data["triggered_by"]["dag_id"] == DAG_ID and data["triggered_by"]["task_id"] == "lineage_task"
    assert data["triggered_by"]["origin"] == "openlineage"
    assert data["triggered_by"]["airflow_url"] == f"{AIRFLOW}/dags/{DAG_ID}/tasks/lineage_task"

    unlinked = _env(tracking_url)
    shown = _cli("show", str(monitored["ours"]), env=unlinked).stdout
    assert "triggered by: Airflow DAG" in shown and "airflow: http" not in shown
    assert (
        json.loads(_cli("show", str(monitored["ours"]), "--json", env=unlinked).stdout)["triggered_by"]["airflow_url"]
        is None
    )

    listed = _cli("runs", "--job-id", str(HOURLY_JOB_ID), env=unlinked).stdout
    assert "triggered by" in listed
    for task in ("grp.load_orders", "plain_task", "lineage_task"):
        assert f"{DAG_ID}.{task}" in listed


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _serve(tracking_url: str, env: dict[str, str]) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    process = subprocess.Popen(
        [*CLI, "ui", "--port", str(port), "--tracking-url", tracking_url],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stderr.read()
        try:
            if httpx.get(f"{base}/api/health", timeout=1.0).status_code == 200:
                return process, base
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError("databand-dbt ui did not start")


@needs_extra("monitor")
@needs_extra("ui")
@pytest.mark.parametrize("configured", [True, False], ids=["with-airflow-url", "without"])
def test_the_web_page_and_api_show_who_triggered_the_run(monitored, tracking_url, configured):
    env = _env(tracking_url, **({"DATABAND_DBT_AIRFLOW_BASE_URL": AIRFLOW} if configured else {}))
    process, base = _serve(tracking_url, env)
    try:
        link = f"{AIRFLOW}/dags/{DAG_ID}/runs/{ENCODED_RUN}/tasks/grp.load_orders/mapped/2"
        api = httpx.get(f"{base}/api/runs/{monitored['ours']}").json()
        assert api["triggered_by"]["dag_id"] == DAG_ID and api["triggered_by"]["airflow_run_id"] == RUN_ID
        assert api["triggered_by"]["map_index"] == 2
        assert api["triggered_by"]["airflow_url"] == (link if configured else None)
        page = httpx.get(f"{base}/runs/{monitored['ours']}").text
        assert 'id="triggered-by"' in page and html.escape(RUN_ID) in page
        assert (f'href="{html.escape(link)}"' in page) is configured
        provider = httpx.get(f"{base}/api/runs/{monitored['provider']}").json()["triggered_by"]
        assert (provider["task_id"], provider["origin"]) == ("plain_task", "provider")
    finally:
        process.terminate()
        process.communicate(timeout=30)


def test_the_airflow_plugin_links_to_the_configured_airflow_else_its_own(monkeypatch):
    import airflow

    if int(airflow.__version__.split(".")[0]) < 3:
        pytest.skip("the web view plugin needs Airflow 3's api-server")
    from airflow_provider_databand_dbt.www.airflow_plugin import _airflow_base_url

    monkeypatch.setenv("AIRFLOW__API__BASE_URL", "http://own-airflow:8080/")
    monkeypatch.delenv("AIRFLOW__DATABAND_DBT__AIRFLOW_BASE_URL", raising=False)
    assert _airflow_base_url() == "http://own-airflow:8080"
    monkeypatch.setenv("AIRFLOW__DATABAND_DBT__AIRFLOW_BASE_URL", "https://airflow.example.com/")
    assert _airflow_base_url() == "https://airflow.example.com"
