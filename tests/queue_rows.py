"""Rows of the two queues (alert outbox, webhook events) in any state and age, written straight into a store."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from airflow_provider_databand_dbt.tracking import alert_outbox, webhook_events
from airflow_provider_databand_dbt.tracking.schema import alert_outbox as outbox_table
from airflow_provider_databand_dbt.tracking.schema import webhook_events as events_table

NOW = datetime.now(timezone.utc)
# Around the default retention of 30 days: long gone, just past it, just within it.
AGES = (
    ("ancient", NOW - timedelta(days=400)),
    ("old", NOW - timedelta(days=31)),
    ("recent", NOW - timedelta(days=29)),
)
OUTBOX_STATES = alert_outbox.OUTBOX_STATES
EVENT_STATES = (webhook_events.QUEUED, webhook_events.CLAIMED, webhook_events.DONE, webhook_events.FAILED)
# What a retention of 30 days keeps: every waiting or claimed row, and the finished ones within it.
KEPT_OUTBOX = {f"{state}-{age}" for state in ("pending", "sending") for age, _ in AGES} | {
    "sent-recent",
    "failed-recent",
}
KEPT_EVENTS = {f"{state}-{age}" for state in ("queued", "claimed") for age, _ in AGES} | {
    "done-recent",
    "failed-recent",
}


def outbox_row(key: str, state: str, finished: datetime) -> dict:
    """A row in ``state`` whose finish time (sent_at, or the failed row's last lease end) is ``finished``."""
    return {
        "notification_key": key,
        "channel": "slack",
        "incident_id": None,
        "payload": "{}",
        "state": state,
        "attempts": 1,
        "next_attempt_at": finished,
        "created_at": AGES[0][1],
        "sent_at": finished if state == "sent" else None,
    }


def event_row(event_id: str, state: str, finished: datetime, *, received: datetime = AGES[0][1]) -> dict:
    """An event received at ``received``; ``finished`` is its processing time (done/failed) or its due time."""
    return {
        "syncer": "main",
        "event_id": event_id,
        "event_type": "job.run.completed",
        "host": "cloud.getdbt.com",
        "account_id": 1,
        "run_id": 7,
        "received_at": received,
        "state": state,
        "attempts": 1,
        "available_at": finished,
        "claimed_by": "someone" if state == "claimed" else None,
        "claimed_until": finished if state == "claimed" else None,
        "processed_at": finished if state in webhook_events.FINISHED_STATES else None,
    }


def seed_every_state_and_age(engine) -> None:
    """Every state of both queues at every age of :data:`AGES`; keys are ``<state>-<age>``."""
    with engine.begin() as conn:
        conn.execute(
            outbox_table.insert(),
            [outbox_row(f"{state}-{age}", state, when) for state in OUTBOX_STATES for age, when in AGES],
        )
        conn.execute(
            events_table.insert(),
            [event_row(f"{state}-{age}", state, when) for state in EVENT_STATES for age, when in AGES],
        )


def remaining(engine) -> tuple[set[str], set[str]]:
    """Keys of the outbox rows and webhook events still stored."""
    with engine.connect() as conn:
        outbox = set(conn.execute(outbox_table.select().with_only_columns(outbox_table.c.notification_key)).scalars())
        events = set(conn.execute(events_table.select().with_only_columns(events_table.c.event_id)).scalars())
    return outbox, events
