"""Long-lived trackers: the monitor keeps its store open and hands every stored run to the sinks."""

from __future__ import annotations

from typing import TYPE_CHECKING

from required_services import needs_extra
from sink_doubles import HttpSink, SinkEndpoint, registered

from airflow_provider_databand_dbt.testing.emulator import DEMO_ACCOUNT_ID, DEMO_TOKEN
from airflow_provider_databand_dbt.tracking.store import TrackingStore

if TYPE_CHECKING:
    from airflow_provider_databand_dbt.monitor.daemon import MonitorDaemon

pytestmark = needs_extra("monitor")


def _sink_failures(daemon: MonitorDaemon) -> dict[str, float]:
    return {
        sample.labels["sink"]: sample.value
        for metric in daemon.metrics.registry.collect()
        if metric.name == "databand_dbt_sink_failures"
        for sample in metric.samples
        if sample.name.endswith("_total")
    }


def test_the_monitor_stores_every_run_and_counts_a_failing_sink(emulator, tracking_url):
    from airflow_provider_databand_dbt.monitor.config import MonitorConfig, SyncerConfig
    from airflow_provider_databand_dbt.monitor.daemon import MonitorDaemon

    finished = sorted(emulator.state.runs)
    config = MonitorConfig(
        syncers=(
            SyncerConfig(
                name="prod",
                account_id=DEMO_ACCOUNT_ID,
                api_url=emulator.url,
                token=DEMO_TOKEN,
                backfill_seconds=30 * 86400,
                collect_concurrency=2,
            ),
        ),
        prometheus_port=0,
        interval=0.05,
        number_of_iterations=1,
        lease_seconds=0,
        tracking_url=tracking_url,
    )
    with SinkEndpoint(status=500) as down, SinkEndpoint() as up, TrackingStore(tracking_url) as store:
        with registered(HttpSink("alerts", down.url), HttpSink("lineage", up.url)):
            daemon = MonitorDaemon(config, store=store)
            assert daemon.run() == 0
        stored = {row.run_id for row in store.list_runs(limit=1000)}

    assert stored == set(finished)
    assert sorted(body["run_id"] for body in up.received) == finished
    assert {(body["source_kind"], body["source_name"], body["action"]) for body in up.received} == {
        ("monitor", "prod", "created")
    }
    assert _sink_failures(daemon) == {"alerts": float(len(finished))}
    assert daemon.health.snapshot()[0]
