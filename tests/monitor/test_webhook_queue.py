"""The webhook queue in a real store (SQLite, PostgreSQL): dedupe, atomic claims, dead claims, atomic finish."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa

from airflow_provider_databand_dbt.model.source import TrackingSource
from airflow_provider_databand_dbt.tracking import migrations, schema
from airflow_provider_databand_dbt.tracking.engine import open_connection
from airflow_provider_databand_dbt.tracking.migrations import head_revision
from airflow_provider_databand_dbt.tracking.store import TrackingStore
from airflow_provider_databand_dbt.tracking.url import parse_tracking_url
from airflow_provider_databand_dbt.tracking.webhook_events import EventClaimLost, WebhookEvent, WebhookQueue

sys.path.insert(0, str(Path(__file__).parents[1] / "tracking"))
from report_factory import make_report  # noqa: E402
from store_probe import schema_revisions, table_names  # noqa: E402

SYNCERS = ("main",)


def event(number: int, syncer: str = "main") -> WebhookEvent:
    return WebhookEvent(syncer, f"wev_{number}", "job.run.completed", "cloud.getdbt.com", 1, 1000 + number)


def test_a_store_of_r0008_gains_the_queue_with_nothing_lost(tracking_url):
    db = open_connection(parse_tracking_url(tracking_url))
    try:
        migrations.upgrade(db, target="r0008")
    finally:
        db.dispose()
    assert schema.webhook_events.name not in table_names(tracking_url)
    with TrackingStore(tracking_url) as store:
        store.save_report(make_report(run_id=7))
    with TrackingStore(tracking_url) as store:
        assert store.get_report(7) is not None
        assert WebhookQueue(store).enqueue(event(1))
    assert schema.webhook_events.name in table_names(tracking_url)
    assert schema_revisions(tracking_url) == [head_revision()]


def test_an_event_id_is_queued_once_per_syncer(store):
    queue = WebhookQueue(store)
    assert queue.enqueue(event(1)) and not queue.enqueue(event(1))
    assert queue.enqueue(event(1, syncer="other"))  # another syncer (another webhook): its own event
    assert queue.counts() == {"queued": 2}


def test_two_workers_racing_never_claim_one_event_twice(store):
    queue = WebhookQueue(store)
    for number in range(60):
        queue.enqueue(event(number))
    claimed: dict[str, list[str]] = {"a": [], "b": [], "c": []}

    def work(owner: str) -> None:
        while (claimed_event := queue.claim(owner, 60, SYNCERS)) is not None:
            claimed[owner].append(claimed_event.event_id)
            assert queue.finish(claimed_event, owner)

    threads = [threading.Thread(target=work, args=(owner,)) for owner in claimed]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    every = [event_id for ids in claimed.values() for event_id in ids]
    assert sorted(every) == sorted(f"wev_{n}" for n in range(60))  # each exactly once
    assert queue.counts() == {"done": 60}


def test_an_expired_or_dead_claim_is_taken_over_and_the_late_worker_saves_nothing(store):
    queue = WebhookQueue(store)
    queue.enqueue(event(1))
    first = queue.claim("host/1:111:5:a", 0.0, SYNCERS)  # expires at once
    assert first is not None and first.attempts == 1
    second = queue.claim("host/1:222:5:b", 60, SYNCERS)
    assert second is not None and second.id == first.id and second.attempts == 2
    source = TrackingSource(kind="webhook", name="main")
    with pytest.raises(EventClaimLost):
        queue.save_and_finish(make_report(run_id=1001), source, first, "host/1:111:5:a")
    assert store.get_report(1001) is None  # rolled back with the lost claim
    queue.save_and_finish(make_report(run_id=1001), source, second, "host/1:222:5:b")
    assert store.get_report(1001) is not None and queue.counts() == {"done": 1}

    queue.enqueue(event(2))
    assert queue.claim("host/1:333:5:c", 3600, SYNCERS) is not None
    assert queue.claim("host/1:444:5:d", 3600, SYNCERS) is None  # claimed, not expired
    assert queue.release_dead_claims(lambda owner: owner.startswith("host/1:333:")) == 1
    assert queue.claim("host/1:444:5:d", 3600, SYNCERS).event_id == "wev_2"


def test_a_failed_attempt_waits_for_its_retry_then_fails_for_good(store):
    queue = WebhookQueue(store)
    queue.enqueue(event(1))
    claimed = queue.claim("me", 60, SYNCERS)
    assert queue.give_back(claimed, "me", "server: 503", retry_in=3600)
    assert queue.claim("me", 60, SYNCERS) is None  # not due yet
    with store.engine.begin() as conn:
        conn.execute(sa.update(schema.webhook_events).values(available_at=sa.func.current_timestamp()))
    claimed = queue.claim("me", 60, SYNCERS)
    assert claimed.attempts == 2
    assert queue.give_back(claimed, "me", "server: 503", retry_in=None)
    assert queue.counts() == {"failed": 1} and queue.pending(SYNCERS) == 0


def test_an_acknowledged_event_is_flushed_to_disk_on_sqlite(sqlite_url):
    """A 200 means "queued": on SQLite that insert commits with synchronous = FULL, no other write does."""
    seen: dict[str, int] = {}

    def record_synchronous(conn, cursor, statement, *_):
        for table in (schema.webhook_events.name, schema.runs.name):
            if statement.lstrip().upper().startswith("INSERT INTO " + table.upper()):
                seen[table] = conn.connection.driver_connection.execute("PRAGMA synchronous").fetchone()[0]

    with TrackingStore(sqlite_url) as store:
        sa.event.listen(store._db.engine, "before_cursor_execute", record_synchronous)
        assert WebhookQueue(store).enqueue(event(1))
        store.save_report(make_report(run_id=7))
        with store._db.engine.connect() as conn:  # the pooled connection is back to NORMAL
            after = conn.exec_driver_sql("PRAGMA synchronous").scalar()
    assert seen == {schema.webhook_events.name: 2, schema.runs.name: 1}  # 2 = FULL, 1 = NORMAL
    assert after == 1
