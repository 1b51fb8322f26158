"""End to end: ``databand-dbt collect`` in real subprocesses alerts once through the shortcut channels.

No alerts file: the two shortcut variables each define a channel with every rule on. The failing nightly
run is collected three times (as the operator, the monitor and a user might); each channel hears of each
incident once, and the Slack message carries its Block Kit blocks.
"""

from __future__ import annotations

import sys
from pathlib import Path

from sink_doubles import SinkEndpoint

from airflow_provider_databand_dbt.testing.emulator import NIGHTLY_JOB_ID

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "cli"))
from cli_run import collect_with_only  # noqa: E402


def _collect(emulator, run_id: int, tracking_url: str, tmp_path, **settings: str):
    return collect_with_only(emulator, run_id, tracking_url, tmp_path, ("DATABAND_DBT_ALERT",), **settings)


def test_collect_alerts_each_channel_once_however_often_the_run_is_tracked(emulator, sqlite_url, tmp_path):
    run_id = emulator.seeded_runs[NIGHTLY_JOB_ID][-1]
    with SinkEndpoint(200) as webhook, SinkEndpoint(200) as slack:
        shortcuts = {
            "DATABAND_DBT_ALERT_WEBHOOK_URL": webhook.url,
            "DATABAND_DBT_ALERT_SLACK_WEBHOOK_URL": slack.url,
        }
        for _ in range(3):
            result = _collect(emulator, run_id, sqlite_url, tmp_path, **shortcuts)
            assert result.returncode == 0, result.stderr
        webhook_bodies, slack_bodies = list(webhook.received), list(slack.received)

    keys = [body["notification"]["key"] for body in webhook_bodies]
    assert keys and len(keys) == len(set(keys))
    rules = {body["notification"]["rule"] for body in webhook_bodies}
    assert {"run_failed", "new_failure"} <= rules
    assert all(body["notification"]["run_id"] == run_id for body in webhook_bodies)
    assert len(slack_bodies) == len(webhook_bodies)
    assert all(body.get("blocks") for body in slack_bodies)
    assert webhook.url not in result.stderr + result.stdout and slack.url not in result.stderr + result.stdout
