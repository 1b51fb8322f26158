"""``databand-dbt emulator --webhook URL --webhook-secret-env VAR`` as a real subprocess."""

from __future__ import annotations

import os
import signal
import subprocess

import pytest
import requests
from test_emulator_cli import COMMAND, start
from webhook_receiver import WebhookReceiver

from airflow_provider_databand_dbt.testing.emulator import DEMO_ACCOUNT_ID, DEMO_TOKEN, HOURLY_JOB_ID

SECRET = "cli-webhook-secret-never-printed"


def test_emulator_sends_signed_webhooks_to_the_flagged_url(wait_for, monkeypatch):
    monkeypatch.setenv("EMULATOR_WEBHOOK_SECRET", SECRET)
    with WebhookReceiver() as receiver:
        proc, url, lines = start(
            "--queued-seconds",
            "0",
            "--running-seconds",
            "0.2",
            "--webhook",
            receiver.url + "/webhooks/dbt-cloud/demo",
            "--webhook-secret-env",
            "EMULATOR_WEBHOOK_SECRET",
        )
        try:
            text = "".join(lines)
            assert "job.run.started, job.run.completed, job.run.errored -> http://127.0.0.1:" in text
            assert "$EMULATOR_WEBHOOK_SECRET" in text
            response = requests.post(
                f"{url}/api/v2/accounts/{DEMO_ACCOUNT_ID}/jobs/{HOURLY_JOB_ID}/run/",
                json={"cause": "cli webhook test"},
                headers={"Authorization": f"Token {DEMO_TOKEN}"},
                timeout=10,
            )
            assert response.status_code == 200
            wait_for(lambda: len(receiver.received) == 2, timeout=15)
            shown = requests.get(f"{url}/_emulator/webhooks", timeout=10).json()["data"]
            assert len(shown) == 1 and shown[0]["http_status_code"] == "200"
        finally:
            proc.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert [r.event["eventType"] for r in receiver.received] == ["job.run.started", "job.run.completed"]
    assert all(r.signed_with(SECRET) and r.path == "/webhooks/dbt-cloud/demo" for r in receiver.received)
    assert SECRET not in text + out + err


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--webhook", "http://127.0.0.1:9/hook"], {}, "--webhook-secret-env"),
        (
            ["--webhook", "http://127.0.0.1:9/hook", "--webhook-secret-env", "UNSET_WEBHOOK_VAR"],
            {},
            "UNSET_WEBHOOK_VAR",
        ),
        (
            ["--webhook", "http://203.0.113.9/hook", "--webhook-secret-env", "WH_SECRET"],
            {"WH_SECRET": SECRET},
            "loopback",
        ),
        (
            [
                "--webhook",
                "http://127.0.0.1:9/hook",
                "--webhook-secret-env",
                "WH_SECRET",
                "--webhook-events",
                "job.run.x",
            ],
            {"WH_SECRET": SECRET},
            "job.run.x",
        ),
    ],
)
def test_bad_webhook_flags_are_one_clear_line(args, env, message):
    environ = {k: v for k, v in os.environ.items() if k != "UNSET_WEBHOOK_VAR"}
    done = subprocess.run(
        [*COMMAND, "emulator", "--port", "0", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**environ, **env},
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert message in done.stderr and "Traceback" not in done.stderr
    assert SECRET not in done.stdout + done.stderr
