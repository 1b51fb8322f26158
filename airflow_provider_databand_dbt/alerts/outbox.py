"""Queue notifications in the store's alert outbox, inside the caller's transaction (the incident change).

The rules' sink calls :func:`enqueue` in the transaction that opens, updates or resolves an incident, so
a notification exists exactly when its incident change does: nothing is lost by a crash before sending,
and two trackers of the same run queue it once (one row per notification key and channel).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Optional

import msgspec
from sqlalchemy.engine import Connection

from airflow_provider_databand_dbt.alerts.config import (
    AlertsConfig,
    AlertsConfigError,
    ChannelConfig,
    current_alerts_config,
)
from airflow_provider_databand_dbt.alerts.notification import AlertNotification
from airflow_provider_databand_dbt.tracking import alert_outbox

log = logging.getLogger(__name__)


def enqueue(conn: Connection, notifications: Sequence[AlertNotification], config: Optional[AlertsConfig] = None) -> int:
    """Queue each notification for every channel whose filters match; returns how many rows were new.

    A resolution goes to the channels that were told about its incident (whatever their severity
    filter says now), so nobody hears "recovered" about something they never heard failed, or misses it.

    :param conn: a connection of the tracking store, in the caller's (write) transaction.
    :param config: the alerts configuration; default: the current one (``current_alerts_config``). When
        the current one is invalid nothing is queued and the error is logged: the incident change still commits.
    """
    if config is None:
        try:
            config = current_alerts_config()
        except AlertsConfigError as exc:
            log.error("alert notifications not queued: %s", exc)
            return 0
    if not config.active or not notifications:
        return 0
    now = datetime.now(timezone.utc)
    rows = []
    for notification in notifications:
        payload = msgspec.json.encode(notification).decode("utf-8")
        for channel in _channels_for(conn, notification, config.channels):
            rows.append(
                alert_outbox.NewOutboxRow(
                    notification_key=notification.key,
                    channel=channel.name,
                    incident_id=notification.incident_id,
                    payload=payload,
                )
            )
    added = alert_outbox.insert_new(conn, rows, now)
    if added:
        log.info("%d alert notification(s) queued for delivery", added)
    return added


def _channels_for(
    conn: Connection, notification: AlertNotification, channels: Sequence[ChannelConfig]
) -> list[ChannelConfig]:
    if notification.change != "resolved":
        return [channel for channel in channels if channel.filters.matches(notification)]
    told = alert_outbox.channels_told(conn, notification.incident_id)
    return [
        channel
        for channel in channels
        if channel.filters.matches(notification, severity_checked=not told) and (not told or channel.name in told)
    ]
