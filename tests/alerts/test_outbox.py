"""The outbox: queued in the caller's transaction, once per (notification, channel), routed by the filters."""

from __future__ import annotations

import threading

import pytest
from alert_helpers import config, notification

from airflow_provider_databand_dbt.alerts.outbox import enqueue
from airflow_provider_databand_dbt.tracking import alert_outbox
from airflow_provider_databand_dbt.tracking.store import TrackingStore

URL = "http://127.0.0.1:9/hook"


def _rows(store):
    return store.read("rows", lambda conn: alert_outbox.list_rows(conn, limit=1000))


def _queue(store, cfg, *notifications):
    return store.transact("queue", lambda conn: enqueue(conn, list(notifications), cfg))


@pytest.fixture()
def two_channels(tmp_path):
    return config(
        tmp_path,
        [
            {"name": "errors-only", "type": "webhook", "url_env": "U", "min_severity": "error"},
            {"name": "other-job", "type": "slack", "webhook_url_env": "U", "pipelines": [999]},
            {"name": "all", "type": "teams", "webhook_url_env": "U"},
        ],
        environ={"U": URL},
    )


def test_the_same_notification_queued_twice_is_one_row_per_channel(store, two_channels):
    assert _queue(store, two_channels, notification()) == 2
    assert _queue(store, two_channels, notification()) == 0  # a second tracker of the same run
    rows = _rows(store)
    assert sorted(row.channel for row in rows) == ["all", "errors-only"]
    assert {(row.state, row.attempts, row.notification_key) for row in rows} == {
        ("pending", 0, "incident-1:opened:run-70001")
    }


def test_concurrent_trackers_queue_one_row(tracking_url, two_channels):
    stores = [TrackingStore(tracking_url) for _ in range(4)]
    barrier = threading.Barrier(len(stores))
    added = []

    def track(store):
        barrier.wait()
        added.append(_queue(store, two_channels, notification()))

    threads = [threading.Thread(target=track, args=(store,)) for store in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    try:
        assert sorted(added) == [0, 0, 0, 2]
        assert len(_rows(stores[0])) == 2
    finally:
        for store in stores:
            store.close()


def test_queueing_is_part_of_the_callers_transaction(store, two_channels):
    def change_then_fail(conn):
        enqueue(conn, [notification()], two_channels)
        raise RuntimeError("the incident change failed")

    with pytest.raises(RuntimeError):
        store.transact("queue", change_then_fail)
    assert _rows(store) == []


def test_a_resolution_goes_to_the_channels_told_about_the_incident(store, two_channels):
    _queue(store, two_channels, notification(severity="error"))
    resolved = notification(key="incident-1:resolved:run-70002", change="resolved", severity="info")
    _queue(store, two_channels, resolved)
    told = sorted(row.channel for row in _rows(store) if row.notification_key == resolved.key)
    assert told == ["all", "errors-only"]  # errors-only hears the recovery of what it heard failed


def test_a_resolution_of_an_untold_incident_follows_the_filters(store, two_channels):
    resolved = notification(key="incident-9:resolved", incident_id=9, change="resolved", severity="info")
    _queue(store, two_channels, resolved)
    assert [row.channel for row in _rows(store)] == ["all"]


def test_filters_on_changes_and_severity(store, tmp_path):
    cfg = config(
        tmp_path,
        [
            {"name": "no-updates", "type": "webhook", "url_env": "U", "changes": ["opened", "resolved"]},
            {"name": "errors-only", "type": "webhook", "url_env": "U", "min_severity": "error"},
        ],
        environ={"U": URL},
    )
    assert _queue(store, cfg, notification(change="updated")) == 1  # errors-only
    assert _queue(store, cfg, notification(key="k2", severity="warning")) == 1  # no-updates
    assert sorted((row.notification_key, row.channel) for row in _rows(store)) == [
        ("incident-1:opened:run-70001", "errors-only"),
        ("k2", "no-updates"),
    ]


def test_nothing_is_queued_without_channels(store, tmp_path):
    assert _queue(store, config(tmp_path, []), notification()) == 0
    assert _rows(store) == []


def test_the_payload_is_the_notification_as_json(store, two_channels):
    import msgspec

    from airflow_provider_databand_dbt.alerts.notification import AlertNotification

    _queue(store, two_channels, notification())
    row = _rows(store)[0]
    assert msgspec.json.decode(row.payload, type=AlertNotification) == notification()


def test_an_invalid_config_queues_nothing_but_never_fails_the_incident_change(store, tmp_path, monkeypatch, caplog):
    path = tmp_path / "broken.toml"
    path.write_text('[[channels]]\nname = "x"\ntype = "slack"\nwebhook_url_env = "UNSET_VARIABLE"\n')
    monkeypatch.setenv("DATABAND_DBT_ALERTS_CONFIG", str(path))
    assert store.transact("queue", lambda conn: enqueue(conn, [notification()])) == 0
    assert "alert notifications not queued:" in caplog.text and "UNSET_VARIABLE is not set" in caplog.text


def test_the_current_config_is_used_by_default(store, tmp_path, monkeypatch):
    from alert_helpers import write_config

    monkeypatch.setenv("DATABAND_DBT_ALERTS_CONFIG", str(write_config(tmp_path / "a.toml", [])))
    monkeypatch.setenv("DATABAND_DBT_ALERT_WEBHOOK_URL", URL)
    assert store.transact("queue", lambda conn: enqueue(conn, [notification()])) == 1
    assert [row.channel for row in _rows(store)] == ["webhook"]
