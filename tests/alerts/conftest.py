"""Alert test fixtures: a real store (SQLite and PostgreSQL), the real AlertSink, and a recording publish."""

from __future__ import annotations

import threading

import pytest


class Recorder:
    """A ``publish`` that remembers what it was handed (in place of the outbox's ``enqueue``)."""

    def __init__(self) -> None:
        self.notifications: list = []
        self._lock = threading.Lock()

    def __call__(self, conn, notifications) -> None:
        with self._lock:
            self.notifications.extend(notifications)

    def changes(self) -> list[tuple[str, str, str | None]]:
        return [(n.change, n.rule, n.node_unique_id) for n in self.notifications]

    def clear(self) -> None:
        self.notifications.clear()


@pytest.fixture()
def published() -> Recorder:
    return Recorder()


@pytest.fixture()
def track(store, published):
    """``track(report, settings=None)``: record a report through a TrackingService with the AlertSink."""
    from airflow_provider_databand_dbt.alerts.settings import DEFAULT_SETTINGS
    from airflow_provider_databand_dbt.alerts.sink import AlertSink
    from airflow_provider_databand_dbt.sinks.service import TrackingService

    def record(report, settings=DEFAULT_SETTINGS):
        service = TrackingService(store, [AlertSink(published, settings=settings, web_base_url="http://ui.test/")])
        outcome = service.record(report)
        assert service.sink_failures == {}
        return outcome

    return record


@pytest.fixture()
def incidents(store):
    """``incidents(**filters)``: the stored incidents through the web view's reader."""
    from airflow_provider_databand_dbt.tracking.read.incidents import list_incidents

    def read(**filters):
        with store.engine.connect() as conn:
            return list_incidents(conn, page_size=500, **filters).items

    return read
