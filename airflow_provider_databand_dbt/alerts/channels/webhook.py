"""Generic JSON webhook: the notification itself, in a versioned envelope, optionally signed.

Body (``schema`` = ``databand-dbt.alert.v1``)::

    {"schema": "databand-dbt.alert.v1", "notification": {<AlertNotification fields>}}

With a ``signing_secret``, the header ``X-Databand-Signature: sha256=<hex>`` is the HMAC-SHA256 of the
exact body bytes, so the receiver can check the sender. ``X-Databand-Notification-Key`` repeats the
notification key: a receiver that sees a key twice (a retry after a lost answer) can ignore the copy.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import msgspec

from airflow_provider_databand_dbt.alerts.channels.http import post_json
from airflow_provider_databand_dbt.alerts.config_channels import ChannelConfig, WebhookTarget
from airflow_provider_databand_dbt.alerts.notification import AlertNotification

SCHEMA = "databand-dbt.alert.v1"
SIGNATURE_HEADER = "X-Databand-Signature"
KEY_HEADER = "X-Databand-Notification-Key"


def envelope(notification: AlertNotification) -> dict[str, Any]:
    return {"schema": SCHEMA, "notification": msgspec.to_builtins(notification)}


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


class WebhookChannel:
    """Posts the notification as JSON to one URL."""

    def __init__(self, config: ChannelConfig) -> None:
        assert isinstance(config.target, WebhookTarget)
        self.config = config
        self.target = config.target

    def send(self, notification: AlertNotification, timeout: float) -> None:
        body = msgspec.json.encode(envelope(notification))
        headers = {KEY_HEADER: notification.key}
        if self.target.signing_secret is not None:
            headers[SIGNATURE_HEADER] = signature(self.target.signing_secret.reveal(), body)
        post_json(self.target.url, body, timeout, headers=headers, secrets=[self.target.signing_secret])
