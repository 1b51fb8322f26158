"""The tracking service over real HTTP (emulator), real stores (SQLite and PostgreSQL) and real failing sinks."""

from __future__ import annotations

import logging

import pytest
from sink_doubles import HttpSink, SinkEndpoint, closed_port_url, registered

from airflow_provider_databand_dbt.collector.collect import collect_run
from airflow_provider_databand_dbt.model.source import TrackingSource
from airflow_provider_databand_dbt.sinks import TrackingService, tracking
from airflow_provider_databand_dbt.testing.emulator import (
    DEMO_ACCOUNT_ID,
    DEMO_TOKEN,
    HOURLY_JOB_ID,
    NIGHTLY_JOB_ID,
)
from airflow_provider_databand_dbt.tracking.errors import (
    TrackingError,
    TrackingStoreUnavailable,
)
from airflow_provider_databand_dbt.tracking.store import TrackingStore


def test_collect_run_builds_the_report_and_never_saves(emulator, client, store):
    run_id = emulator.seeded_runs[NIGHTLY_JOB_ID][-1]
    with pytest.raises(TypeError):
        collect_run(client, DEMO_ACCOUNT_ID, run_id, store=store)  # type: ignore[call-arg]
    report = collect_run(client, DEMO_ACCOUNT_ID, run_id)
    assert report.run_id == run_id and report.summary
    assert store.get_report(run_id) is None


def test_a_failing_sink_never_fails_tracking_nor_the_sinks_after_it(emulator, client, store, caplog):
    run_id = emulator.seeded_runs[NIGHTLY_JOB_ID][-1]
    with SinkEndpoint(status=500) as down, SinkEndpoint() as up:
        sinks = [HttpSink("down", down.url), HttpSink("refused", closed_port_url()), HttpSink("lineage", up.url)]
        service = TrackingService(store, sinks)
        with caplog.at_level(logging.WARNING, logger="airflow_provider_databand_dbt.sinks"):
            report = service.track(client, DEMO_ACCOUNT_ID, run_id, source=TrackingSource(kind="cli", name="me"))
            service.track(client, DEMO_ACCOUNT_ID, run_id, source=TrackingSource(kind="cli", name="me"))

    assert report.status == "error"
    stored = store.get_report(run_id)
    assert stored is not None and stored.summary == report.summary
    assert [source.kind for source in store.list_sources(run_id)] == ["cli", "cli"]
    assert service.sink_failures == {"down": 2, "refused": 2}
    assert len(down.received) == 2  # it was called, and failed
    assert [(body["run_id"], body["action"], body["source_kind"], body["source_stamped"]) for body in up.received] == [
        (run_id, "created", "cli", True),
        (run_id, "updated", "cli", True),
    ]
    warnings = [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]
    assert sum(f"run {run_id} is tracked, but sink down failed" in line for line in warnings) == 2
    assert all("\n" not in line and DEMO_TOKEN not in line for line in warnings)


def test_the_store_fails_first_and_later_sinks_see_only_stored_runs(emulator, client, sqlite_url):
    TrackingStore(sqlite_url).close()
    run_id = emulator.seeded_runs[HOURLY_JOB_ID][-1]
    with (
        SinkEndpoint() as up,
        TrackingStore(sqlite_url, read_only=True) as read_only,
        pytest.raises(TrackingError) as raised,
    ):
        TrackingService(read_only, [HttpSink("lineage", up.url)]).track(client, DEMO_ACCOUNT_ID, run_id)
    assert isinstance(raised.value, TrackingStoreUnavailable)  # the store's own error, as before the service
    assert "is read-only" in str(raised.value)
    assert up.received == []


def test_without_a_store_the_sinks_still_get_the_run(emulator, client):
    run_id = emulator.seeded_runs[HOURLY_JOB_ID][-1]
    with SinkEndpoint() as up, tracking(False, sinks=[HttpSink("lineage", up.url)]) as service:
        service.track(client, DEMO_ACCOUNT_ID, run_id)
    assert [(body["run_id"], body["action"], body["source_kind"]) for body in up.received] == [(run_id, None, "api")]


def test_the_api_function_tracks_through_the_registered_sinks(emulator, tracking_url):
    from airflow_provider_databand_dbt import collect_data_from_dbt_cloud

    run_id = emulator.seeded_runs[HOURLY_JOB_ID][-1]
    with SinkEndpoint(status=503) as down, SinkEndpoint() as up:
        with registered(HttpSink("down", down.url), HttpSink("lineage", up.url)):
            report = collect_data_from_dbt_cloud(
                DEMO_ACCOUNT_ID, DEMO_TOKEN, run_id, emulator.url, tracking_url=tracking_url
            )
        # Unregistered: the next call has no sink after the store.
        collect_data_from_dbt_cloud(DEMO_ACCOUNT_ID, DEMO_TOKEN, run_id, emulator.url, tracking_url=tracking_url)
    assert report.run_id == run_id
    assert len(down.received) == 1
    assert [(body["run_id"], body["action"], body["source_kind"]) for body in up.received] == [
        (run_id, "created", "api")
    ]
    with TrackingStore(tracking_url) as store:
        assert len(store.list_sources(run_id)) == 2


def test_a_sink_factory_that_fails_is_skipped(emulator, sqlite_url, caplog):
    from airflow_provider_databand_dbt import collect_data_from_dbt_cloud
    from airflow_provider_databand_dbt.sinks import (
        register_sink_factory,
        unregister_sink_factory,
    )

    def misconfigured():
        raise ValueError("OPENLINEAGE_URL is not a URL")

    register_sink_factory(misconfigured)
    try:
        with caplog.at_level(logging.WARNING, logger="airflow_provider_databand_dbt.sinks"):
            report = collect_data_from_dbt_cloud(
                DEMO_ACCOUNT_ID,
                DEMO_TOKEN,
                emulator.seeded_runs[HOURLY_JOB_ID][-1],
                emulator.url,
                tracking_url=sqlite_url,
            )
    finally:
        unregister_sink_factory(misconfigured)
    assert report.status == "success"
    assert any("sink misconfigured could not be set up" in record.getMessage() for record in caplog.records)
