"""Retention on SQLite and PostgreSQL: only finished queue rows older than the limit go, in bounded batches."""

from __future__ import annotations

import threading
from datetime import timedelta

from queue_rows import AGES, KEPT_EVENTS, KEPT_OUTBOX, NOW, event_row, outbox_row, remaining, seed_every_state_and_age

from airflow_provider_databand_dbt.tracking import alert_outbox, webhook_events
from airflow_provider_databand_dbt.tracking.retention import prune_finished
from airflow_provider_databand_dbt.tracking.schema import alert_outbox as outbox_table
from airflow_provider_databand_dbt.tracking.schema import webhook_events as events_table

LIMIT = NOW - timedelta(days=30)
OLD = AGES[1][1]


def test_only_finished_rows_past_the_limit_are_pruned(store):
    seed_every_state_and_age(store.engine)

    pruned = prune_finished(store, LIMIT)

    assert pruned.rows == {"dbt_tracking_alert_outbox": 4, "dbt_tracking_webhook_event": 4}
    assert remaining(store.engine) == (KEPT_OUTBOX, KEPT_EVENTS)
    assert prune_finished(store, LIMIT).total == 0  # nothing left to prune: a second pass is a no-op


def test_an_event_is_judged_by_when_it_finished_not_when_it_arrived(store):
    with store.engine.begin() as conn:
        conn.execute(events_table.insert(), [event_row("late", "done", NOW - timedelta(days=1), received=OLD)])
    assert prune_finished(store, LIMIT).total == 0


def test_a_backlog_goes_in_batches_of_at_most_batch_size(store):
    with store.engine.begin() as conn:
        conn.execute(outbox_table.insert(), [outbox_row(f"sent-{i}", "sent", OLD) for i in range(7)])
        conn.execute(events_table.insert(), [event_row(f"done-{i}", "done", OLD) for i in range(5)])
    # One batch on its own deletes no more than its limit.
    assert store.transact("prune", lambda conn: alert_outbox.prune(conn, LIMIT, 3)) == 3
    assert store.transact("prune", lambda conn: webhook_events.prune(conn, LIMIT, 2)) == 2

    batches: list[tuple[str, int]] = []
    pruned = prune_finished(store, LIMIT, batch_size=2, pause=0, on_batch=lambda t, n: batches.append((t, n)))

    assert pruned.rows == {"dbt_tracking_alert_outbox": 4, "dbt_tracking_webhook_event": 3}
    assert batches == [
        ("dbt_tracking_alert_outbox", 2),
        ("dbt_tracking_alert_outbox", 2),
        ("dbt_tracking_webhook_event", 2),
        ("dbt_tracking_webhook_event", 1),
    ]
    assert remaining(store.engine) == (set(), set())


def test_a_stop_ends_the_pass_after_one_batch_per_table(store):
    with store.engine.begin() as conn:
        conn.execute(outbox_table.insert(), [outbox_row(f"sent-{i}", "sent", OLD) for i in range(5)])
        conn.execute(events_table.insert(), [event_row(f"done-{i}", "done", OLD) for i in range(5)])
    stop = threading.Event()
    stop.set()

    pruned = prune_finished(store, LIMIT, batch_size=2, stop=stop)

    assert pruned.rows == {"dbt_tracking_alert_outbox": 2, "dbt_tracking_webhook_event": 2}
