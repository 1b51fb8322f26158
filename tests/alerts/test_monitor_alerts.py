"""The monitor sends queued alerts: ``databand-dbt monitor`` as a real subprocess drains the outbox every interval."""

from __future__ import annotations

import sys
from pathlib import Path

from alert_helpers import WebhookReceiver, notification
from alert_helpers import write_config as write_alerts_config

from airflow_provider_databand_dbt.alerts.config import load_alerts_config
from airflow_provider_databand_dbt.alerts.outbox import enqueue
from airflow_provider_databand_dbt.tracking import alert_outbox
from airflow_provider_databand_dbt.tracking.store import TrackingStore

sys.path.insert(0, str(Path(__file__).parents[1] / "monitor"))
from monitor_helpers import MonitorProcess, monitor_env, wait_for, write_config  # noqa: E402


def test_the_monitor_sends_what_a_tracker_queued_and_retries_it(emulator, tmp_path, sqlite_url):
    with WebhookReceiver(500, 200) as receiver:
        alerts_path = write_alerts_config(
            tmp_path / "alerts.toml",
            [{"name": "hook", "type": "webhook", "url_env": "HOOK_URL"}],
            delivery={"backoff_initial": 0.2, "backoff_max": 0.5},
        )
        env = monitor_env(DATABAND_DBT_ALERTS_CONFIG=str(alerts_path), HOOK_URL=receiver.secret_url)
        config = load_alerts_config(str(alerts_path), environ=env)
        with TrackingStore(sqlite_url) as store:
            # A short-lived tracker queued it but could not send it (it crashed, or ran out of its time cap).
            store.transact("queue", lambda conn: enqueue(conn, [notification()], config))
        monitor_config = write_config(tmp_path / "monitor.cfg", emulator.url, sqlite_url, interval=0.3)
        with MonitorProcess(monitor_config, env=env) as monitor:
            wait_for(lambda: len(receiver.bodies) >= 2, 30, "the alert to be sent after one failed attempt")
            assert monitor.terminate() == 0, monitor.log()
    assert receiver.bodies[0] == receiver.bodies[1]
    with TrackingStore(sqlite_url) as store:
        (row,) = store.read("rows", lambda conn: alert_outbox.list_rows(conn))
    assert (row.state, row.attempts) == ("sent", 2)
    assert "SECRET" not in monitor.log()
