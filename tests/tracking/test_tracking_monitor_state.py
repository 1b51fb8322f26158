"""Monitor cursors survive restarts; leases let exactly one monitor run a syncer until they expire."""

from __future__ import annotations

import threading
import time

from airflow_provider_databand_dbt.tracking.rows import MonitorCursor


def test_cursor_is_none_until_saved_then_round_trips(store):
    assert store.get_cursor("prod") is None
    cursor = MonitorCursor(
        syncer="prod",
        host="cloud.getdbt.com",
        account_id=1,
        last_run_id=70010,
        active_run_ids=[70008, 70009],
        backfill_done=False,
    )

    saved = store.save_cursor(cursor)
    loaded = store.get_cursor("prod")

    assert loaded == saved
    assert loaded.updated_at is not None and loaded.updated_at.tzinfo is not None
    assert (loaded.last_run_id, loaded.active_run_ids, loaded.backfill_done) == (70010, [70008, 70009], False)


def test_saving_a_cursor_again_replaces_it(store):
    store.save_cursor(
        MonitorCursor(syncer="prod", host="cloud.getdbt.com", account_id=1, last_run_id=1, active_run_ids=[1])
    )
    store.save_cursor(
        MonitorCursor(
            syncer="prod", host="cloud.getdbt.com", account_id=1, last_run_id=5, active_run_ids=[], backfill_done=True
        )
    )
    store.save_cursor(MonitorCursor(syncer="staging", host="emea.dbt.com", account_id=2))

    prod = store.get_cursor("prod")
    assert (prod.last_run_id, prod.active_run_ids, prod.backfill_done) == (5, [], True)
    staging = store.get_cursor("staging")
    assert (staging.host, staging.account_id, staging.last_run_id) == ("emea.dbt.com", 2, None)


def test_lease_is_exclusive_renewable_and_releasable(store):
    assert store.try_acquire_lease("prod", "monitor-a", 30)
    assert not store.try_acquire_lease("prod", "monitor-b", 30)
    assert store.try_acquire_lease("prod", "monitor-a", 30)  # renewal by the holder
    assert store.try_acquire_lease("staging", "monitor-b", 30)  # other syncers are independent

    assert not store.release_lease("prod", "monitor-b")  # not the holder: nothing happens
    assert not store.try_acquire_lease("prod", "monitor-b", 30)
    assert store.release_lease("prod", "monitor-a")
    assert store.try_acquire_lease("prod", "monitor-b", 30)


def test_expired_lease_can_be_taken_over(store):
    assert store.try_acquire_lease("prod", "monitor-a", 0.3)
    assert not store.try_acquire_lease("prod", "monitor-b", 30)

    time.sleep(0.4)

    assert store.try_acquire_lease("prod", "monitor-b", 30)
    assert not store.try_acquire_lease("prod", "monitor-a", 30)  # the old holder lost it


def test_racing_monitors_get_one_lease(store):
    start = threading.Barrier(6)
    winners: list[str] = []
    errors: list[BaseException] = []

    def contend(owner: str) -> None:
        try:
            start.wait(timeout=30)
            if store.try_acquire_lease("prod", owner, 30):
                winners.append(owner)
        except BaseException as error:  # surfaced below
            errors.append(error)

    threads = [threading.Thread(target=contend, args=(f"monitor-{n}",)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert len(winners) == 1
