"""Slack, Teams and the generic webhook against a real loopback HTTP server: the bodies, and the failures."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest
from alert_helpers import SECRET_PATH, WebhookReceiver, config, notification
from sink_doubles import closed_port_url

from airflow_provider_databand_dbt.alerts.channels import DeliveryError, build_channel


def _channel(tmp_path, channel_type, url, **keys):
    key = "url" if channel_type == "webhook" else "webhook_url"
    environ = {"HOOK_URL": url, "SIGNING": "s3cret-signing"}
    cfg = config(tmp_path, [{"name": "c", "type": channel_type, f"{key}_env": "HOOK_URL", **keys}], environ=environ)
    return build_channel(cfg.channel("c"))


def test_slack_gets_block_kit_with_what_failed_the_error_skipped_nodes_and_links(tmp_path):
    with WebhookReceiver(200) as receiver:
        _channel(tmp_path, "slack", receiver.secret_url).send(notification(), timeout=5)
    (request,) = receiver.requests
    assert request["path"] == SECRET_PATH
    body = request["body"]
    assert body["text"].startswith("\U0001f534 fct_orders failed: nightly (job 42")
    header, facts, error, skipped, actions = body["blocks"]
    assert header == {
        "type": "header",
        "text": {"type": "plain_text", "text": "\U0001f534 fct_orders failed", "emoji": True},
    }
    fields = [field["text"] for field in facts["fields"]]
    assert "*Pipeline*\nnightly (job 42)" in fields
    assert "*Node*\nfct_orders (model)" in fields
    assert "*Rule*\nNew failure" in fields
    # mrkdwn control characters are escaped inside the code block.
    assert error["text"]["text"] == "```Database Error in model fct_orders: column &lt;amount&gt; does not exist```"
    assert skipped == {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": "1 node skipped downstream: orders_daily"}],
    }
    assert [(b["text"]["text"], b["url"]) for b in actions["elements"]] == [
        ("Run page", "http://127.0.0.1:8080/runs/70001"),
        ("Open in dbt Cloud", "https://cloud.getdbt.com/deploy/1/projects/1/runs/70001"),
    ]


def test_slack_keeps_within_block_kit_limits(tmp_path):
    long = notification(
        title="x" * 500, message="e" * 10_000, skipped_downstream=tuple(f"model.p.m{i}" for i in range(40))
    )
    with WebhookReceiver(200) as receiver:
        _channel(tmp_path, "slack", receiver.secret_url).send(long, timeout=5)
    blocks = receiver.bodies[0]["blocks"]
    assert len(blocks[0]["text"]["text"]) <= 150
    assert all(len(block["text"]["text"]) <= 3000 for block in blocks if "text" in block and block["type"] == "section")
    assert "40 nodes skipped downstream" in blocks[3]["elements"][0]["text"]
    assert "and 30 more" in blocks[3]["elements"][0]["text"]


def test_teams_gets_an_adaptive_card_message(tmp_path):
    with WebhookReceiver(202) as receiver:
        _channel(tmp_path, "teams", receiver.secret_url).send(
            notification(change="resolved", severity="info"), timeout=5
        )
    body = receiver.bodies[0]
    assert body["type"] == "message"
    (attachment,) = body["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert (card["type"], card["version"]) == ("AdaptiveCard", "1.4")
    title, facts, error, skipped = card["body"]
    assert title["text"] == "\u2705 Recovered: fct_orders failed" and title["color"] == "Good"
    assert {"title": "Incident", "value": "#1, recovered"} in facts["facts"]
    assert error["fontType"] == "Monospace" and "column <amount>" in error["text"]
    assert [a["type"] for a in card["actions"]] == ["Action.OpenUrl", "Action.OpenUrl"]


def test_webhook_gets_the_notification_as_documented_json_signed(tmp_path):
    with WebhookReceiver(204) as receiver:
        _channel(tmp_path, "webhook", receiver.secret_url, signing_secret_env="SIGNING").send(notification(), timeout=5)
    (request,) = receiver.requests
    body = request["body"]
    assert body["schema"] == "databand-dbt.alert.v1"
    sent = body["notification"]
    assert sent["key"] == "incident-1:opened:run-70001"
    assert sent["pipeline"] == {
        "host": "cloud.getdbt.com",
        "account_id": 1,
        "job_id": 42,
        "job_name": "nightly",
        "project_name": None,
        "environment_name": None,
    }
    assert sent["occurred_at"] == "2026-12-06T08:30:00Z"
    assert sent["skipped_downstream"] == ["model.shop.orders_daily"]
    expected = "sha256=" + hmac.new(b"s3cret-signing", request["raw"], hashlib.sha256).hexdigest()
    assert request["headers"]["X-Databand-Signature"] == expected
    assert request["headers"]["X-Databand-Notification-Key"] == sent["key"]
    assert json.loads(request["raw"]) == body


@pytest.mark.parametrize(("status", "retryable"), [(500, True), (503, True), (429, True), (404, False), (400, False)])
def test_a_refusal_is_one_line_without_the_url_and_says_whether_to_retry(tmp_path, status, retryable):
    with WebhookReceiver(status) as receiver:
        with pytest.raises(DeliveryError) as caught:
            _channel(tmp_path, "slack", receiver.secret_url).send(notification(), timeout=5)
    assert caught.value.retryable is retryable
    message = str(caught.value)
    assert message.startswith(f"127.0.0.1 answered HTTP {status}: invalid_payload")
    assert "SECRET" not in message and "\n" not in message


def test_an_unreachable_webhook_fails_retryably_without_the_url(tmp_path):
    with pytest.raises(DeliveryError) as caught:
        _channel(tmp_path, "teams", closed_port_url().rstrip("/") + SECRET_PATH).send(notification(), timeout=2)
    assert caught.value.retryable
    assert str(caught.value) == "cannot reach 127.0.0.1 (ConnectionError)"


def test_a_slow_webhook_times_out(tmp_path):
    with WebhookReceiver(200, delay=2.0) as receiver:
        with pytest.raises(DeliveryError, match=r"did not answer within 0.3 s"):
            _channel(tmp_path, "webhook", receiver.secret_url).send(notification(), timeout=0.3)


def test_debug_logs_of_the_http_library_never_show_the_webhook_path(tmp_path, caplog):
    caplog.set_level("DEBUG")
    with WebhookReceiver(200) as receiver:
        _channel(tmp_path, "slack", receiver.secret_url).send(notification(), timeout=5)
    assert '"POST *** HTTP/1.1" 200' in caplog.text  # urllib3 logged the request, redacted
    assert "SECRET" not in caplog.text
