"""``databand-dbt alerts``: a real subprocess per command, against a loopback webhook and a real store."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from alert_helpers import FAST_DELIVERY, SECRET_PATH, WebhookReceiver, notification, write_config
from sink_doubles import closed_port_url

from airflow_provider_databand_dbt.alerts.config import load_alerts_config
from airflow_provider_databand_dbt.alerts.outbox import enqueue
from airflow_provider_databand_dbt.tracking.store import TrackingStore

CLI = [sys.executable, "-m", "airflow_provider_databand_dbt.cli"]


def run(*args, env):
    return subprocess.run([*CLI, *args], env=env, capture_output=True, text=True, timeout=60, check=False)


@pytest.fixture()
def env(tmp_path):
    environ = {k: v for k, v in os.environ.items() if not k.startswith("DATABAND_DBT_ALERT")}
    environ["DATABAND_DBT_TRACKING_URL"] = f"sqlite:///{tmp_path / 'tracking.db'}"
    environ["DATABAND_DBT_ALERTS_CONFIG"] = str(tmp_path / "alerts.toml")
    return environ


def _write(tmp_path, url, **delivery):
    channels = [
        {"name": "team", "type": "slack", "webhook_url_env": "HOOK_URL", "min_severity": "warning", "pipelines": [42]},
        {"name": "hook", "type": "webhook", "url_env": "HOOK_URL"},
    ]
    write_config(tmp_path / "alerts.toml", channels, delivery={**FAST_DELIVERY, **delivery})
    return url


def test_test_sends_a_sample_through_one_channel(tmp_path, env):
    with WebhookReceiver(200) as receiver:
        env["HOOK_URL"] = _write(tmp_path, receiver.secret_url)
        result = run("-v", "alerts", "test", "team", env=env)
    assert result.returncode == 0, result.stderr
    assert "urllib3" in result.stderr  # debug logging on, and still no secret below
    assert result.stdout.startswith("sent a test alert through team (POST http://127.0.0.1:")
    (body,) = receiver.bodies
    assert body["blocks"][0]["text"]["text"].startswith("\U0001f534 Test alert from databand-dbt")
    assert SECRET_PATH not in result.stdout + result.stderr


def test_test_reports_a_refusal_in_one_line_with_exit_1_and_no_secret(tmp_path, env):
    with WebhookReceiver(500) as receiver:
        env["HOOK_URL"] = _write(tmp_path, receiver.secret_url)
        result = run("alerts", "test", "hook", env=env)
    assert result.returncode == 1
    assert result.stderr == "databand-dbt: error: channel hook: 127.0.0.1 answered HTTP 500: invalid_payload ***\n"


def test_test_of_an_unreachable_channel_is_exit_1(tmp_path, env):
    env["HOOK_URL"] = _write(tmp_path, closed_port_url().rstrip("/") + SECRET_PATH)
    result = run("alerts", "test", "hook", env=env)
    assert (result.returncode, result.stderr) == (
        1,
        "databand-dbt: error: channel hook: cannot reach 127.0.0.1 (ConnectionError)\n",
    )


def test_unknown_channel_and_bad_config_are_usage_errors(tmp_path, env):
    env["HOOK_URL"] = _write(tmp_path, "http://127.0.0.1:9" + SECRET_PATH)
    result = run("alerts", "test", "nope", env=env)
    assert result.returncode == 2
    assert "no alert channel named 'nope'; configured: team, hook" in result.stderr
    del env["HOOK_URL"]
    result = run("alerts", "test", "team", env=env)
    assert result.returncode == 2
    assert result.stderr.strip().endswith("team webhook_url_env: environment variable HOOK_URL is not set or empty")
    assert "Traceback" not in result.stderr


def test_list_shows_channels_and_filters_without_secrets(tmp_path, env):
    env["HOOK_URL"] = _write(tmp_path, "http://127.0.0.1:9" + SECRET_PATH)
    env["DATABAND_DBT_ALERT_SLACK_WEBHOOK_URL"] = "https://hooks.slack.com" + SECRET_PATH
    result = run("alerts", "list", "--json", env=env)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert [(c["name"], c["type"], c["pipelines"], c["min_severity"]) for c in data["channels"]] == [
        ("team", "slack", [42], "warning"),
        ("hook", "webhook", [], "info"),
        ("slack", "slack", [], "info"),
    ]
    text = run("alerts", "list", env=env).stdout
    assert "slack (slack): POST https://hooks.slack.com/*** (URL from env DATABAND_DBT_ALERT_SLACK_WEBHOOK_URL)" in text
    assert "SECRET" not in result.stdout + text


def test_outbox_and_deliver_show_and_send_what_is_queued(tmp_path, env, monkeypatch):
    with WebhookReceiver(200) as receiver:
        env["HOOK_URL"] = _write(tmp_path, receiver.secret_url)
        monkeypatch.setenv("HOOK_URL", receiver.secret_url)
        config = load_alerts_config(env["DATABAND_DBT_ALERTS_CONFIG"])
        with TrackingStore(env["DATABAND_DBT_TRACKING_URL"]) as store:
            store.transact("queue", lambda conn: enqueue(conn, [notification()], config))
        listed = json.loads(run("alerts", "outbox", "--json", env=env).stdout)
        assert listed["counts"] == {"pending": 2, "sending": 0, "sent": 0, "failed": 0}
        result = run("alerts", "deliver", env=env)
        assert (result.returncode, result.stdout) == (0, "alerts: 2 sent, 0 to retry, 0 failed, 0 left for later\n")
        assert len(receiver.bodies) == 2
    text = run("alerts", "outbox", "--state", "sent", env=env).stdout
    assert text.splitlines()[0] == "0 pending, 0 sending, 2 sent, 0 failed"
    assert "incident-1:opened:run-70001" in text


def test_deliver_exits_1_when_an_alert_fails_for_good(tmp_path, env, monkeypatch):
    with WebhookReceiver(410) as receiver:
        env["HOOK_URL"] = _write(tmp_path, receiver.secret_url)
        monkeypatch.setenv("HOOK_URL", receiver.secret_url)
        config = load_alerts_config(env["DATABAND_DBT_ALERTS_CONFIG"])
        with TrackingStore(env["DATABAND_DBT_TRACKING_URL"]) as store:
            store.transact("queue", lambda conn: enqueue(conn, [notification(severity="info")], config))
        result = run("alerts", "deliver", env=env)
    assert result.returncode == 1
    assert "0 sent, 0 to retry, 1 failed" in result.stdout
    assert "SECRET" not in result.stdout + result.stderr
