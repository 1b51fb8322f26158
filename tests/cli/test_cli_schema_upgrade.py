"""A legacy store upgraded by a CLI command: real subprocesses; the output says nothing of Alembic's internals."""

from __future__ import annotations

import shutil
from pathlib import Path

from cli_run import databand_dbt
from required_services import needs_extra

from airflow_provider_databand_dbt.testing.emulator import DEMO_ACCOUNT_ID
from airflow_provider_databand_dbt.tracking.store import TrackingStore

V1_STORE = Path(__file__).parent.parent / "tracking" / "data" / "v1_store.db"


@needs_extra("monitor")
def test_monitor_upgrading_a_legacy_store_prints_no_alembic_lines(tmp_path, emulator):
    shutil.copy(V1_STORE, tmp_path / "tracking.db")
    url = f"sqlite:///{tmp_path / 'tracking.db'}"
    config = tmp_path / "monitor.cfg"
    config.write_text(
        "[dbt_monitor]\nprometheus_port = 0\ninterval = 0.3\nlease_seconds = 0\nnumber_of_iterations = 1\n"
        f"tracking_url = {url}\n\n[dbt_monitor.syncer.main]\naccount_id = {DEMO_ACCOUNT_ID}\n"
        f"api_url = {emulator.url}\napi_token_env = DBT_CLOUD_API_TOKEN\n"
    )

    result = databand_dbt("monitor", "--config", str(config), timeout=180)  # logs at INFO on stderr

    assert result.returncode == 0, result.stderr
    output = result.stdout + result.stderr
    assert "Upgrading tracking store" in output  # our own INFO lines are shown...
    assert "alembic" not in output.lower() and "Context impl" not in output  # ...Alembic's are not
    with TrackingStore(url, read_only=True) as store:  # upgraded: a reader of this version accepts it
        assert store.list_runs()
