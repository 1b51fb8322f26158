"""Microsoft Teams (incoming webhook or a Workflows "post to a channel when a webhook request is received"):
a message with one Adaptive Card (title, fact set, the error, skipped nodes, Open URL actions).

The Workflows trigger accepts the same ``{"type": "message", "attachments": [...]}`` envelope as the
retiring incoming webhooks, and answers 202; card version 1.4 renders in both.
"""

from __future__ import annotations

from typing import Any

import msgspec

from airflow_provider_databand_dbt.alerts.channels import text
from airflow_provider_databand_dbt.alerts.channels.http import post_json
from airflow_provider_databand_dbt.alerts.config_channels import ChannelConfig, WebhookTarget
from airflow_provider_databand_dbt.alerts.notification import AlertNotification

CARD_SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
CARD_VERSION = "1.4"
_COLOR = {"error": "Attention", "warning": "Warning", "info": "Accent"}


def card(notification: AlertNotification) -> dict[str, Any]:
    """The Adaptive Card itself."""
    color = "Good" if notification.change == "resolved" else _COLOR.get(notification.severity, "Default")
    body: list[dict[str, Any]] = [
        {
            "type": "TextBlock",
            "text": text.headline(notification),
            "size": "Large",
            "weight": "Bolder",
            "color": color,
            "wrap": True,
        },
        {"type": "FactSet", "facts": [{"title": label, "value": value} for label, value in text.facts(notification)]},
    ]
    message = text.error_message(notification)
    if message:
        body.append({"type": "TextBlock", "text": message, "fontType": "Monospace", "wrap": True, "separator": True})
    skipped = text.skipped_summary(notification)
    if skipped:
        body.append({"type": "TextBlock", "text": skipped, "isSubtle": True, "wrap": True})
    content: dict[str, Any] = {"$schema": CARD_SCHEMA, "type": "AdaptiveCard", "version": CARD_VERSION, "body": body}
    actions = [{"type": "Action.OpenUrl", "title": label, "url": url} for label, url in text.links(notification)]
    if actions:
        content["actions"] = actions
    return content


def message(notification: AlertNotification) -> dict[str, Any]:
    """The body posted to the webhook: a message with the card as its one attachment."""
    return {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": card(notification),
            }
        ],
    }


class TeamsChannel:
    """Posts Adaptive Card messages to one Teams webhook."""

    def __init__(self, config: ChannelConfig) -> None:
        assert isinstance(config.target, WebhookTarget)
        self.config = config
        self.target = config.target

    def send(self, notification: AlertNotification, timeout: float) -> None:
        post_json(self.target.url, msgspec.json.encode(message(notification)), timeout)
