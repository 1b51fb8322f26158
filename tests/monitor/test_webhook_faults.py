"""Faults around the webhook queue: the store unreachable while events arrive, a SIGKILL with events queued."""

from __future__ import annotations

import os
import shutil

import pytest
import sqlalchemy as sa
from monitor_helpers import MonitorProcess, free_port, monitor_env, wait_for
from webhook_helpers import (
    SECRET,
    SECRET_ENV,
    deliver,
    event_states,
    monitor_in_process,
    payload,
    run_rows,
    wait_processed,
    webhook_config,
    webhook_sightings,
)

from airflow_provider_databand_dbt.testing.emulator import DEMO_ACCOUNT_ID, HOURLY_JOB_ID, Fault
from airflow_provider_databand_dbt.tracking.store import TrackingStore


def test_sqlite_store_gone_answers_503_and_queues_nothing(emulator, tmp_path, small_dir):
    store_dir = tmp_path / "store"
    store_dir.mkdir()
    url = f"sqlite:///{store_dir / 'tracking.db'}"
    port = free_port()
    config = webhook_config(tmp_path / "monitor.cfg", emulator.url, url, port)
    run_id = emulator.add_run(DEMO_ACCOUNT_ID, HOURLY_JOB_ID, status="success", artifacts_dir=str(small_dir))
    store = TrackingStore(url)
    try:
        with monitor_in_process(config, store=store):
            assert deliver(port, payload("job.run.completed", run_id))[0] == 200
            wait_processed(store.engine, 1)
            shutil.rmtree(store_dir)
            store.engine.dispose()  # the next connection must open the file, whose directory is gone
            status, answer = deliver(port, payload("job.run.completed", run_id))
            assert status == 503, answer
            assert "retry" in answer["error"]
    finally:
        store.close()


@pytest.mark.postgres
def test_postgres_down_answers_503_then_the_redelivery_is_processed(emulator, tmp_path, small_dir, postgres_url):
    port = free_port()
    run_id = emulator.add_run(DEMO_ACCOUNT_ID, HOURLY_JOB_ID, status="success", artifacts_dir=str(small_dir))
    name = sa.engine.make_url(postgres_url).database
    admin = sa.create_engine(os.environ["DATABAND_DBT_TEST_POSTGRES_URL"], isolation_level="AUTOCOMMIT")

    def allow(allowed: bool) -> None:
        with admin.connect() as conn:
            conn.execute(sa.text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {str(allowed).lower()}'))
            if not allowed:
                conn.execute(
                    sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :name"),
                    {"name": name},
                )

    config = webhook_config(tmp_path / "monitor.cfg", emulator.url, postgres_url, port)
    event = payload("job.run.completed", run_id)
    try:
        with monitor_in_process(config):
            allow(False)
            status, answer = deliver(port, event)
            assert status == 503, answer
            allow(True)
            assert deliver(port, event) == (200, {"status": "queued"})  # dbt Cloud's redelivery
            with TrackingStore(postgres_url) as store:
                wait_processed(store.engine, 1)
                assert webhook_sightings(store.engine) == {run_id: 1}
    finally:
        allow(True)
        admin.dispose()


def test_sigkill_with_events_queued_then_restart_processes_each_acknowledged_event_once(
    emulator, tmp_path, tracking_url, small_dir
):
    port = free_port()
    config = webhook_config(tmp_path / "monitor.cfg", emulator.url, tracking_url, port)
    env = monitor_env(**{SECRET_ENV: SECRET})
    run_ids = emulator.add_runs(DEMO_ACCOUNT_ID, HOURLY_JOB_ID, 40, status="success", artifacts_dir=str(small_dir))
    # Slow artifacts: the worker is mid-way through the queue when the monitor dies.
    emulator.inject_fault(Fault(path_pattern=r"/artifacts/", kind="slow", delay=0.15))
    TrackingStore(tracking_url).close()
    with TrackingStore(tracking_url) as store:
        with MonitorProcess(config, env=env, log_path=tmp_path / "first.log") as first:
            first.wait_for_log("receiving dbt Cloud webhooks for syncer main")
            acknowledged = [deliver(port, payload("job.run.completed", run_id))[0] for run_id in run_ids]
            assert acknowledged == [200] * len(run_ids)
            wait_for(lambda: list(event_states(store.engine).values()).count("done") >= 3, 60, "3 events done")
            first.kill()
        states = event_states(store.engine)
        assert len(states) == 40 and list(states.values()).count("done") < 40, "the kill came too late"
        emulator.clear_faults()
        with MonitorProcess(config, env=env, log_path=tmp_path / "second.log") as second:
            wait_processed(store.engine, 40, timeout=120)
            second.terminate()
        assert set(event_states(store.engine).values()) == {"done"}
        assert webhook_sightings(store.engine) == dict.fromkeys(run_ids, 1)  # exactly once each
        assert set(run_rows(store.engine).values()) == {1}
        for run_id in run_ids:
            assert store.get_report(run_id).status == "success"
