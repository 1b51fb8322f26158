"""Slack incoming webhook: a Block Kit message (header, facts, the error, skipped nodes, link buttons).

Slack's limits are kept: header text 150 characters, section text 3000, at most 10 fields of 2000;
``text`` is the fallback shown in notifications. Text is escaped (``&``, ``<``, ``>``) for mrkdwn.
"""

from __future__ import annotations

from typing import Any

import msgspec

from airflow_provider_databand_dbt.alerts.channels import text
from airflow_provider_databand_dbt.alerts.channels.http import post_json
from airflow_provider_databand_dbt.alerts.config_channels import ChannelConfig, WebhookTarget
from airflow_provider_databand_dbt.alerts.notification import AlertNotification

HEADER_MAX = 150
SECTION_MAX = 3000
FIELD_MAX = 2000


def escape(value: str) -> str:
    """Slack's mrkdwn escaping: only these three characters are control characters."""
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cut(value: str, limit: int) -> str:
    return value if len(value) <= limit else value[: limit - 1] + "\u2026"


def _mrkdwn(value: str, limit: int = SECTION_MAX) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": _cut(value, limit)}


def blocks(notification: AlertNotification) -> dict[str, Any]:
    """The message body: ``{"text": fallback, "blocks": [...]}``."""
    headline = text.headline(notification)
    body: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _cut(headline, HEADER_MAX), "emoji": True}},
        {
            "type": "section",
            "fields": [_mrkdwn(f"*{label}*\n{escape(value)}", FIELD_MAX) for label, value in text.facts(notification)][
                :10
            ],
        },
    ]
    message = text.error_message(notification)
    if message:
        fence = "```"
        quoted = escape(message.replace(fence, "'''"))
        body.append({"type": "section", "text": _mrkdwn(f"{fence}{quoted}{fence}")})
    skipped = text.skipped_summary(notification)
    if skipped:
        body.append({"type": "context", "elements": [_mrkdwn(escape(skipped))]})
    buttons = [
        {"type": "button", "text": {"type": "plain_text", "text": label}, "url": url}
        for label, url in text.links(notification)
    ]
    if buttons:
        body.append({"type": "actions", "elements": buttons})
    return {"text": _cut(f"{headline}: {text.pipeline_label(notification)}", SECTION_MAX), "blocks": body}


class SlackChannel:
    """Posts Block Kit messages to one incoming webhook."""

    def __init__(self, config: ChannelConfig) -> None:
        assert isinstance(config.target, WebhookTarget)
        self.config = config
        self.target = config.target

    def send(self, notification: AlertNotification, timeout: float) -> None:
        post_json(self.target.url, msgspec.json.encode(blocks(notification)), timeout)
