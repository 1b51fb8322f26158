"""The dbt Cloud token must never show up in output, logs, errors or the store — checked by grepping all of it."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys

import sqlalchemy as sa

from airflow_provider_databand_dbt.testing.emulator import DEMO_ACCOUNT_ID, Fault

CANARY = "dbtc_CANARY_7f3a9c1e5b2d4f60a8e1"
WRONG = "dbtc_WRONG_1b2c3d4e5f60718293a4"


def run_cli(*args: str, token: str, tracking_url: str) -> str:
    env = dict(os.environ, DBT_CLOUD_API_TOKEN=token, DATABAND_DBT_TRACKING_URL=tracking_url)
    result = subprocess.run(
        [sys.executable, "-m", "airflow_provider_databand_dbt.cli", "-v", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return result.stdout + result.stderr


def dump_store(url: str) -> str:
    engine = sa.create_engine(url)
    rows = []
    with engine.connect() as conn:
        for table in sa.inspect(engine).get_table_names():
            rows += [repr(tuple(row)) for row in conn.execute(sa.text(f'SELECT * FROM "{table}"'))]
    engine.dispose()
    return "\n".join(rows)


def test_token_absent_everywhere(emulator, sqlite_url, caplog, tmp_path):
    emulator.add_account(DEMO_ACCOUNT_ID, CANARY)
    run_id = emulator.add_run(DEMO_ACCOUNT_ID, 100, status="error")
    collect = ["collect", "--account-id", str(DEMO_ACCOUNT_ID), "--run-id", str(run_id), "--api-url", emulator.url]
    seen: list[str] = []

    # Retries, warnings and debug lines: one 429 and one 503 on the run, a truncated manifest.
    emulator.inject_fault(Fault(r"/runs/\d+/$", kind="status", status=429, retry_after=1, times=1))
    emulator.inject_fault(Fault(r"/runs/\d+/$", kind="status", status=503, times=1))
    emulator.inject_fault(Fault(r"manifest\.json", kind="truncate", times=1))
    seen.append(run_cli(*collect, token=CANARY, tracking_url=sqlite_url))
    emulator.clear_faults()
    seen.append(run_cli(*collect, "--json", token=CANARY, tracking_url=sqlite_url))
    seen.append(run_cli(*collect, token=WRONG, tracking_url=sqlite_url))  # 401 path
    seen.append(run_cli("show", str(run_id), "--json", token=CANARY, tracking_url=sqlite_url))
    seen.append(run_cli("runs", "--json", token=CANARY, tracking_url=sqlite_url))
    assert "customer_ltv_forecast" in seen[1], "the collect did not work, so this test would prove nothing"

    # In-process: exceptions, their chains and reprs, and every log record at DEBUG.
    from airflow_provider_databand_dbt import collect_data_from_dbt_cloud
    from airflow_provider_databand_dbt.dbt_cloud.client import DbtCloudClient

    caplog.set_level(logging.DEBUG)
    for token in (CANARY, WRONG):
        try:
            collect_data_from_dbt_cloud(DEMO_ACCOUNT_ID, token, run_id, emulator.url, tracking_url=sqlite_url)
        except Exception as exc:  # noqa: BLE001 - we grep whatever was raised
            chain = exc
            while chain is not None:
                seen += [str(chain), repr(chain), json.dumps(getattr(chain, "__dict__", {}), default=str)]
                chain = chain.__cause__ or chain.__context__
    client = DbtCloudClient(CANARY, emulator.url)
    seen += [repr(client), str(client)]
    client.close()
    seen += [record.getMessage() for record in caplog.records]
    seen.append(dump_store(sqlite_url))

    everything = "\n".join(seen)
    assert str(run_id) in everything
    for token in (CANARY, WRONG):
        assert token not in everything
        assert token[5:] not in everything  # not even without the dbtc_ prefix
