"""The AlertSink in the tracking service: registered when alerts are configured, bound to the tracker's store,
publishing in the incident's transaction, never failing tracking."""

from __future__ import annotations

import logging

import pytest

from airflow_provider_databand_dbt.alerts.sink import AlertSink, alert_sink_factory
from airflow_provider_databand_dbt.sinks.registry import default_sinks
from airflow_provider_databand_dbt.sinks.service import TrackingService
from airflow_provider_databand_dbt.testing.synthetic_runs import NodeSpec, build_report


def test_registered_only_when_alerts_are_configured(monkeypatch, store):
    for name in (
        "DATABAND_DBT_ALERTS_CONFIG",
        "DATABAND_DBT_ALERT_SLACK_WEBHOOK_URL",
        "DATABAND_DBT_ALERT_WEBHOOK_URL",
    ):
        monkeypatch.delenv(name, raising=False)
    assert alert_sink_factory() is None
    assert not any(isinstance(s, AlertSink) for s in default_sinks())
    monkeypatch.setenv("DATABAND_DBT_ALERT_WEBHOOK_URL", "http://127.0.0.1:9/hook")
    [sink] = [s for s in TrackingService(store).sinks if isinstance(s, AlertSink)]
    assert sink.store is store  # bound to the tracker's own store, whatever its URL


def test_a_failing_publish_never_fails_tracking_and_rolls_the_incident_back(store, incidents, caplog):
    def broken(conn, notifications):
        raise RuntimeError("outbox is full")

    service = TrackingService(store, [AlertSink(broken)])
    with caplog.at_level(logging.WARNING):
        outcome = service.record(build_report(3, status="error", nodes=[NodeSpec(name="b", status="error")]))
    assert outcome.action == "created"
    assert store.get_report(3) is not None
    assert service.sink_failures == {"alerts": 1}
    assert incidents() == []  # published in the same transaction: nothing half-done
    lines = [r.getMessage() for r in caplog.records if r.name == "airflow_provider_databand_dbt.alerts.sink"]
    assert lines == [
        "alerts: run 3 is tracked, but its alert rules could not be evaluated (RuntimeError: outbox is full)"
    ]
    # The run was not marked evaluated: the next tracker of it opens the incident.
    recorded = []
    TrackingService(store, [AlertSink(lambda conn, notes: recorded.extend(notes))]).record(
        build_report(3, status="error", nodes=[NodeSpec(name="b", status="error")])
    )
    assert {n.rule for n in recorded} == {"run_failed", "new_failure"}


def test_without_a_store_the_sink_does_nothing():
    sink = AlertSink(lambda conn, notes: pytest.fail("published without a store"))
    TrackingService(None, [sink]).record(build_report(1, status="error"))
