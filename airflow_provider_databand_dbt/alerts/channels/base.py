"""What every channel is and how it fails: ``send`` raises :class:`DeliveryError`, retryable or not."""

from __future__ import annotations

from typing import Protocol

from airflow_provider_databand_dbt.alerts.config_channels import ChannelConfig
from airflow_provider_databand_dbt.alerts.notification import AlertNotification


class DeliveryError(Exception):
    """A channel did not accept a notification. The message is one line without secrets.

    :param retryable: False when trying again cannot help (the webhook is gone, the payload was refused).
    """

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


class Channel(Protocol):
    """Sends notifications to one configured destination."""

    config: ChannelConfig

    def send(self, notification: AlertNotification, timeout: float) -> None:
        """Deliver one notification within ``timeout`` seconds; raises :class:`DeliveryError`."""
        ...
