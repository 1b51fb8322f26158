"""Alert channels: Slack, Microsoft Teams, a generic JSON webhook and e-mail. :func:`build_channel` picks one."""

from __future__ import annotations

from airflow_provider_databand_dbt.alerts.channels.base import Channel, DeliveryError
from airflow_provider_databand_dbt.alerts.config_channels import ChannelConfig

__all__ = ["Channel", "DeliveryError", "build_channel"]


def build_channel(config: ChannelConfig) -> Channel:
    """The sender for a configured channel (its module is imported only when used)."""
    if config.type == "slack":
        from airflow_provider_databand_dbt.alerts.channels.slack import SlackChannel

        return SlackChannel(config)
    if config.type == "teams":
        from airflow_provider_databand_dbt.alerts.channels.teams import TeamsChannel

        return TeamsChannel(config)
    if config.type == "webhook":
        from airflow_provider_databand_dbt.alerts.channels.webhook import WebhookChannel

        return WebhookChannel(config)
    from airflow_provider_databand_dbt.alerts.channels.email import EmailChannel

    return EmailChannel(config)
