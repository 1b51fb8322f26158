"""A real monitor process prunes finished queue rows past ``retention_days``: at start, counted, logged."""

from __future__ import annotations

import pytest
from monitor_helpers import MonitorProcess, free_port, monitor_env, run_monitor, scrape, write_config
from queue_rows import KEPT_EVENTS, KEPT_OUTBOX, remaining, seed_every_state_and_age

from airflow_provider_databand_dbt.monitor.config import MonitorConfigError, load_config
from airflow_provider_databand_dbt.testing.emulator import DEMO_TOKEN
from airflow_provider_databand_dbt.tracking.store import TrackingStore

ALL_OUTBOX = KEPT_OUTBOX | {"sent-old", "sent-ancient", "failed-old", "failed-ancient"}
ALL_EVENTS = KEPT_EVENTS | {"done-old", "done-ancient", "failed-old", "failed-ancient"}


def seeded(url: str) -> None:
    with TrackingStore(url) as store:
        seed_every_state_and_age(store.engine)


def test_a_monitor_run_prunes_finished_rows_past_the_default_retention(emulator, tmp_path, tracking_url):
    seeded(tracking_url)
    config = write_config(tmp_path / "monitor.cfg", emulator.url, tracking_url)

    result = run_monitor(config, "--number-of-iterations", "1")

    assert result.returncode == 0, result.stderr
    assert (
        "retention: pruned 4 rows of dbt_tracking_alert_outbox, 4 rows of dbt_tracking_webhook_event "
        "finished more than 30 days ago" in result.stderr
    )
    with TrackingStore(tracking_url) as store:
        assert remaining(store.engine) == (KEPT_OUTBOX, KEPT_EVENTS)


def test_retention_zero_from_the_environment_keeps_everything(emulator, tmp_path, sqlite_url):
    seeded(sqlite_url)
    config = write_config(tmp_path / "monitor.cfg", emulator.url, sqlite_url)

    result = run_monitor(config, "--number-of-iterations", "1", env=monitor_env(DBND__DBT_MONITOR__RETENTION_DAYS="0"))

    assert result.returncode == 0, result.stderr
    assert "kept forever" in result.stderr
    with TrackingStore(sqlite_url) as store:
        assert remaining(store.engine) == (ALL_OUTBOX, ALL_EVENTS)


def test_pruned_rows_are_counted_per_table_on_metrics(emulator, tmp_path, sqlite_url):
    seeded(sqlite_url)
    port = free_port()
    config = write_config(tmp_path / "monitor.cfg", emulator.url, sqlite_url, prometheus_port=port, interval=3600)

    with MonitorProcess(config) as monitor:
        monitor.wait_for_log("retention: pruned")
        samples = scrape(port)
        assert monitor.terminate() == 0
    pruned = {
        dict(labels)["table"]: value
        for (name, labels), value in samples.items()
        if name == "databand_dbt_rows_pruned_total"
    }
    assert pruned == {"dbt_tracking_alert_outbox": 4.0, "dbt_tracking_webhook_event": 4.0}


def test_retention_days_from_file_env_and_flag(tmp_path):
    config = write_config(tmp_path / "monitor.cfg", "http://127.0.0.1:1", "sqlite://", retention_days=7)
    env = {"MONITOR_TEST_DBT_TOKEN": DEMO_TOKEN}
    assert load_config(str(config), environ=env).retention_days == 7
    assert load_config(str(config), environ={**env, "DBND__DBT_MONITOR__RETENTION_DAYS": "90"}).retention_days == 90
    flags = {"retention_days": "0"}
    assert (
        load_config(str(config), flags=flags, environ={**env, "DBND__DBT_MONITOR__RETENTION_DAYS": "90"}).retention_days
        == 0
    )
    assert (
        load_config(
            str(write_config(tmp_path / "d.cfg", "http://127.0.0.1:1", "sqlite://")), environ=env
        ).retention_days
        == 30
    )
    for bad in ("-1", "1.5", "forever", "36501", "99999999999"):
        with pytest.raises(MonitorConfigError, match="--retention-days: "):
            load_config(str(config), flags={"retention_days": bad}, environ=env)


def test_check_config_shows_the_retention(tmp_path):
    config = write_config(tmp_path / "monitor.cfg", "http://127.0.0.1:1", "sqlite://")

    shown = run_monitor(config, "--check-config", "--retention-days", "14")
    forever = run_monitor(config, "--check-config", env=monitor_env(DBND__DBT_MONITOR__RETENTION_DAYS="0"))
    bad = run_monitor(config, "--check-config", "--retention-days", "-3")

    assert shown.returncode == 0 and "retention_days: 14 " in shown.stdout
    assert forever.returncode == 0 and "retention_days: 0 (" in forever.stdout and "kept forever" in forever.stdout
    assert bad.returncode == 2 and "--retention-days: must be >= 0" in bad.stderr
