"""``collect_run(lineage=True)``: what lineage sinks need, decoded only when asked, never stored nor in as_dict()."""

from __future__ import annotations

from airflow_provider_databand_dbt.collector.collect import collect_run
from airflow_provider_databand_dbt.model.lineage import Relation
from airflow_provider_databand_dbt.sinks.service import TrackingService
from airflow_provider_databand_dbt.testing.emulator import DEMO_ACCOUNT_ID, NIGHTLY_JOB_ID
from airflow_provider_databand_dbt.tracking.store import TrackingStore


class _LineageSink:
    name = "lineage-recorder"
    wants_lineage = True

    def __init__(self) -> None:
        self.reports: list = []

    def handle(self, report, source, outcome) -> None:
        self.reports.append(report)


def test_plain_collection_keeps_no_lineage(emulator, client):
    report = collect_run(client, DEMO_ACCOUNT_ID, emulator.seeded_runs[NIGHTLY_JOB_ID][-1])

    assert report.lineage is None
    assert "lineage" not in report.as_dict()


def test_lineage_has_the_adapter_compiled_sql_tests_and_parents(emulator, client):
    report = collect_run(client, DEMO_ACCOUNT_ID, emulator.seeded_runs[NIGHTLY_JOB_ID][-1], lineage=True)

    lineage = report.lineage
    assert lineage is not None and lineage.adapter_type == "duckdb"
    assert 'from "tiny_shop"."main"."stg_orders"' in lineage.nodes["model.tiny_shop.fct_orders"].compiled_code
    test = lineage.nodes[
        "test.tiny_shop.relationships_stg_orders_customer_id__customer_id__ref_stg_customers_.430bf21500"
    ]
    assert (test.test_name, test.column_name, test.attached_node) == (
        "relationships",
        "customer_id",
        "model.tiny_shop.stg_orders",
    )
    assert lineage.parents["source.tiny_shop.app_raw.web_events"] == Relation(
        resource_type="source", database="tiny_shop", schema="app_raw", name="web_events"
    )
    # the report itself is the same as without lineage
    assert "lineage" not in report.as_dict()
    plain = collect_run(client, DEMO_ACCOUNT_ID, report.run_id)
    assert {k: v for k, v in report.as_dict().items() if k != "collected_at"} == {
        k: v for k, v in plain.as_dict().items() if k != "collected_at"
    }


def test_a_sink_that_wants_lineage_gets_it_and_the_store_round_trips(emulator, client, tracking_url):
    sink = _LineageSink()
    run_id = emulator.seeded_runs[NIGHTLY_JOB_ID][-1]
    with TrackingStore(tracking_url) as store:
        service = TrackingService(store, [sink])
        assert service.wants_lineage
        service.track(client, DEMO_ACCOUNT_ID, run_id)
        stored = store.get_report(run_id)

    [report] = sink.reports
    assert report.lineage is not None and report.lineage.nodes
    assert stored.lineage is None
    assert stored.summary == report.summary
    assert TrackingService(None, []).wants_lineage is False
