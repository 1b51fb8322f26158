"""The web view inside a real Airflow 3: the plugins manager sees it, the API server serves it behind login.

One temporary AIRFLOW_HOME with a migrated SQLite metadata DB, the simple auth manager with one user,
and ``airflow api-server`` as a subprocess on a free loopback port (its start dominates the run time).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from ui_process import free_port

pytestmark = pytest.mark.airflow
airflow_module = pytest.importorskip("airflow")
if int(airflow_module.__version__.split(".")[0]) < 3:  # Airflow 2 has no FastAPI server to mount the view in
    pytest.skip("the web view plugin needs Airflow 3's api-server", allow_module_level=True)

PASSWORD = "pw-for-tests"
PREFIX = "/databand-dbt"


def airflow(*args: str, env: dict, timeout: float = 180) -> subprocess.CompletedProcess:
    command = [str(Path(sys.executable).with_name("airflow")), *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def airflow_env(tmp_path_factory):
    """Environment of a fresh Airflow 3 home whose tracking store holds the emulator's history."""
    from web_fill import fill_store

    from airflow_provider_databand_dbt.testing.emulator import DbtCloudEmulator
    from airflow_provider_databand_dbt.tracking.store import TrackingStore

    home = tmp_path_factory.mktemp("airflow_home")
    store_url = f"sqlite:///{home / 'tracking.db'}"
    with DbtCloudEmulator() as emulator, TrackingStore(store_url) as store:
        filled = fill_store(store, emulator)
    (home / "passwords.json").write_text(json.dumps({"viewer": PASSWORD}))
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "viewer:viewer",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "passwords.json"),
        "AIRFLOW__API_AUTH__JWT_SECRET": "databand-dbt-test-secret-" + "x" * 48,
        # The plugin must read Airflow's own setting, not the test default the root conftest sets.
        "AIRFLOW__DATABAND_DBT__TRACKING_URL": store_url,
    }
    env.pop("DATABAND_DBT_TRACKING_URL", None)
    migrated = airflow("db", "migrate", env=env)
    assert migrated.returncode == 0, migrated.stderr[-2000:]
    return env, filled


@pytest.fixture(scope="module")
def api_server(airflow_env):
    env, filled = airflow_env
    port = free_port()
    log_path = Path(env["AIRFLOW_HOME"]) / "api-server.log"
    with open(log_path, "w") as log_file:
        process = subprocess.Popen(
            [
                str(Path(sys.executable).with_name("airflow")),
                "api-server",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                "1",
                "--apps",
                "core",
            ],
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            assert process.poll() is None, log_path.read_text()[-3000:]
            try:
                if httpx.get(f"{base}/api/v2/monitor/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "airflow api-server did not start"
            time.sleep(0.3)
        yield base, filled
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def _token(base: str) -> str:
    response = httpx.post(f"{base}/auth/token", json={"username": "viewer", "password": PASSWORD}, timeout=10)
    assert response.status_code == 201, response.text
    return response.json()["access_token"]


def test_view_requires_airflow_login(api_server):
    base, _ = api_server
    response = httpx.get(f"{base}{PREFIX}/", timeout=10)
    assert response.status_code == 401
    assert "Log in to Airflow first" in response.text
    assert httpx.get(f"{base}{PREFIX}/api/pipelines", timeout=10).status_code == 401


def test_view_answers_under_the_plugin_prefix(api_server):
    base, filled = api_server
    token = _token(base)
    page = httpx.get(f"{base}{PREFIX}/", cookies={"_token": token}, timeout=30)
    assert page.status_code == 200
    assert "Nightly build" in page.text
    assert f'href="{PREFIX}/pipelines/100"' in page.text
    assert f'href="{PREFIX}/static/style.css' in page.text
    assert httpx.get(f"{base}{PREFIX}/static/style.css", timeout=10).status_code == 200

    run = httpx.get(f"{base}{PREFIX}/runs/{filled.latest_failed_run}", cookies={"_token": token}, timeout=30)
    assert run.status_code == 200
    # Task links point into this same Airflow (no base_url configured: same server).
    assert 'href="/dags/dbt_nightly/runs/' in run.text and 'target="_top"' in run.text

    api = httpx.get(
        f"{base}{PREFIX}/api/runs/{filled.latest_failed_run}", headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    assert api.status_code == 200 and api.json()["status"] == "error"
    missing = httpx.get(f"{base}{PREFIX}/runs/1", cookies={"_token": token}, timeout=10)
    assert missing.status_code == 404 and "Run 1 is not in this tracking store" in missing.text


def test_plugins_manager_lists_app_and_menu_entry(api_server):
    base, _ = api_server
    headers = {"Authorization": f"Bearer {_token(base)}"}
    # /api/v2/plugins is the plugins manager's own view of what it loaded.
    plugins = httpx.get(f"{base}/api/v2/plugins", headers=headers, timeout=30).json()
    ours = next(p for p in plugins["plugins"] if p["name"] == "databand_dbt")
    assert "airflow-provider-databand-dbt" in ours["source"]
    assert ours["fastapi_apps"][0]["url_prefix"] == PREFIX
    view = ours["external_views"][0]
    assert view["href"] == "databand-dbt/" and view["url_route"] == "databand-dbt"
    errors = httpx.get(f"{base}/api/v2/plugins/importErrors", headers=headers, timeout=30).json()
    assert not [e for e in errors["import_errors"] if "databand" in json.dumps(e)]
