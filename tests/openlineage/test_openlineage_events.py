"""Events built from a real collected run: valid against the official schema, with the facets the issue asks for."""

from __future__ import annotations

import json

import pytest
from lineage_schema import validate_event
from required_services import needs_extra

from airflow_provider_databand_dbt.model.source import TrackingSource

pytestmark = needs_extra("openlineage")

CLI_SOURCE = TrackingSource(kind="cli", name="databand-dbt collect")


def _as_json(events) -> list[dict]:
    from openlineage.client.serde import Serde

    return [json.loads(Serde.to_json(event)) for event in events]


def _events(report, source=CLI_SOURCE, **settings) -> list[dict]:
    from airflow_provider_databand_dbt.openlineage.config import LineageSettings
    from airflow_provider_databand_dbt.openlineage.events import run_events

    return _as_json(run_events(report, source.stamped(), LineageSettings(**settings)))


def _by_job(events: list[dict]) -> dict[str, dict]:
    return {event["job"]["name"]: event for event in events}


def test_every_event_of_a_failed_run_is_valid_against_the_openlineage_schema(nightly_report):
    events = _events(nightly_report)

    for event in events:
        validate_event(event)
    executed = [
        node
        for _, node in nightly_report.iter_nodes()
        if node.resource_type in ("model", "seed", "snapshot", "test") and node.status != "skipped"
    ]
    assert len(events) == len(executed) + 1
    assert len({event["run"]["runId"] for event in events}) == len(events)


def test_run_level_event_ends_the_run_with_its_status_message_and_dbt_cloud_link(nightly_report):
    run_event = _events(nightly_report)[-1]

    assert run_event["eventType"] == "FAIL"
    assert run_event["eventTime"] == nightly_report.finished_at.isoformat()
    assert run_event["job"]["name"] == f"dbt_cloud.{nightly_report.account_id}.{nightly_report.job_id}"
    assert run_event["job"]["facets"]["jobType"]["jobType"] == "JOB"
    facets = run_event["run"]["facets"]
    assert facets["errorMessage"]["message"] == nightly_report.status_message
    assert facets["processing_engine"]["version"] == nightly_report.dbt_version
    assert facets["dbt_cloud_run"]["url"] == nightly_report.url
    assert facets["dbt_cloud_run"]["run_id"] == nightly_report.run_id
    assert "parent" not in facets  # tracked from the CLI, triggered by the schedule


def test_a_running_run_starts_first_and_has_no_final_state(nightly_report):
    import msgspec

    running = msgspec.structs.replace(nightly_report, status="running", finished_at=None)

    events = _events(running)

    assert events[0]["eventType"] == "START"
    assert events[0]["eventTime"] == nightly_report.started_at.isoformat()
    assert [e["eventType"] for e in events[1:]] and all(e["eventType"] != "START" for e in events[1:])


def test_node_events_have_the_run_as_parent_and_their_own_timings(nightly_report):
    events = _events(nightly_report)
    run_event = events[-1]
    nodes = {node.unique_id: node for _, node in nightly_report.iter_nodes()}
    by_job = _by_job(events)

    for event in events[:-1]:
        parent = event["run"]["facets"]["parent"]
        assert parent["run"]["runId"] == run_event["run"]["runId"]
        assert parent["job"] == {"namespace": "default", "name": run_event["job"]["name"], "facets": {}}
        assert parent["root"]["run"]["runId"] == run_event["run"]["runId"]
    fct = by_job["tiny_shop.main.fct_orders"]
    assert fct["eventType"] == "COMPLETE"
    assert fct["eventTime"] == nodes["model.tiny_shop.fct_orders"].finished_at.isoformat()
    assert fct["job"]["facets"]["jobType"] == {
        "_producer": fct["producer"],
        "_schemaURL": fct["job"]["facets"]["jobType"]["_schemaURL"],
        "processingType": "BATCH",
        "integration": "DBT",
        "jobType": "MODEL",
    }
    assert 'from "tiny_shop"."main"."stg_orders"' in fct["job"]["facets"]["sql"]["query"]
    assert fct["job"]["facets"]["sql"]["dialect"] == "duckdb"
    # skipped nodes did not execute
    assert "tiny_shop.main.marketing_segments" not in by_job


def test_datasets_come_from_the_manifest_with_row_counts(nightly_report):
    by_job = _by_job(_events(nightly_report))

    fct = by_job["tiny_shop.main.fct_orders"]
    assert {(d["namespace"], d["name"]) for d in fct["inputs"]} == {
        ("duckdb://tiny_shop", "tiny_shop.main.stg_orders"),
        ("duckdb://tiny_shop", "tiny_shop.main.stg_payments"),
    }
    assert [(d["namespace"], d["name"]) for d in fct["outputs"]] == [
        ("duckdb://tiny_shop", "tiny_shop.main.fct_orders")
    ]
    seed = by_job["tiny_shop.main.raw_payments.seed"]
    assert seed["job"]["facets"]["jobType"]["jobType"] == "SEED"
    assert seed["outputs"][0]["outputFacets"]["outputStatistics"]["rowCount"] == 11
    web_events = by_job["tiny_shop.main.stg_web_events"]
    assert [d["name"] for d in web_events["inputs"]] == ["tiny_shop.app_raw.web_events"]  # a source parent
    snapshot = by_job["tiny_shop.main.customers_snapshot.snapshot"]
    assert [d["name"] for d in snapshot["inputs"]] == ["tiny_shop.main.raw_customers"]


def test_failures_carry_the_error_message(nightly_report):
    by_job = _by_job(_events(nightly_report))

    forecast = by_job["tiny_shop.main.customer_ltv_forecast"]
    assert forecast["eventType"] == "FAIL"
    message = forecast["run"]["facets"]["errorMessage"]["message"]
    assert "predicted_growth_rate" in message
    failed_test = by_job["tiny_shop.main_dbt_test__audit.assert_revenue_by_payment_method_is_positive.test"]
    assert failed_test["eventType"] == "FAIL"
    assert "errorMessage" in failed_test["run"]["facets"]


def test_tests_put_their_assertions_on_the_dataset_they_test(nightly_report):
    by_job = _by_job(_events(nightly_report))

    not_null = by_job["tiny_shop.main_dbt_test__audit.not_null_stg_customers_customer_id.test"]
    assert not_null["outputs"] == []
    [tested] = not_null["inputs"]
    assert tested["name"] == "tiny_shop.main.stg_customers"
    [assertion] = tested["inputFacets"]["dataQualityAssertions"]["assertions"]
    assert (assertion["assertion"], assertion["column"], assertion["success"]) == ("not_null", "customer_id", True)
    # relationships tests depend on two models and are attached to the one they are defined on
    relationships = next(e for name, e in by_job.items() if ".relationships_stg_orders" in name)
    assert [d["name"] for d in relationships["inputs"]] == ["tiny_shop.main.stg_orders"]
    # a warning test did not succeed
    warn = by_job["tiny_shop.main_dbt_test__audit.accepted_payment_methods.test"]
    [warned] = warn["inputs"][0]["inputFacets"]["dataQualityAssertions"]["assertions"]
    assert (warned["assertion"], warned["success"], warned["severity"]) == ("accepted_values", False, "warn")
    # a singular test without attached node checks every model it reads
    singular = by_job["tiny_shop.main_dbt_test__audit.assert_every_order_is_in_fct_orders.test"]
    assert {d["name"] for d in singular["inputs"]} == {"tiny_shop.main.stg_orders", "tiny_shop.main.fct_orders"}


def test_dataset_namespace_override_and_no_datasets_without_the_adapter(nightly_report):
    import msgspec

    by_job = _by_job(_events(nightly_report, dataset_namespace="snowflake://myorg-myaccount"))
    assert by_job["tiny_shop.main.fct_orders"]["outputs"][0]["namespace"] == "snowflake://myorg-myaccount"

    without_manifest = msgspec.structs.replace(nightly_report, lineage=None)
    events = _events(without_manifest)
    for event in events:
        validate_event(event)
        assert event["inputs"] == [] and event["outputs"] == []


@pytest.mark.parametrize(
    ("source_kind", "cause"),
    [
        ("airflow", "Triggered via Apache Airflow by task 'run_dbt' in the nightly DAG."),
        ("monitor", "[airflow dag=nightly&task=run_dbt&run=scheduled__2026-11-26T00%3A00%3A00%2B00%3A00&try=2]"),
    ],
)
def test_a_run_triggered_from_airflow_has_the_airflow_task_as_parent(nightly_report, source_kind, cause):
    import msgspec
    from openlineage.client.uuid import generate_static_uuid

    from airflow_provider_databand_dbt.model.source import TrackingSource

    report = msgspec.structs.replace(nightly_report, trigger_cause=cause)
    source = (
        TrackingSource(
            kind="airflow",
            dag_id="nightly",
            task_id="run_dbt",
            airflow_run_id="scheduled__2026-11-26T00:00:00+00:00",
            try_number=2,
        )
        if source_kind == "airflow"
        else TrackingSource(kind="monitor", name="prod")
    )

    events = _events(report, source, namespace="airflow-prod")

    # What the Airflow OpenLineage provider's build_task_instance_run_id gives this task instance.
    from datetime import datetime, timezone

    expected = generate_static_uuid(
        instant=datetime(2026, 11, 26, tzinfo=timezone.utc), data=b"airflow-prod.nightly.run_dbt.2.-1"
    )
    parent = events[-1]["run"]["facets"]["parent"]
    assert parent["job"]["name"] == "nightly.run_dbt"
    assert parent["job"]["namespace"] == "airflow-prod"
    assert parent["run"]["runId"] == str(expected)
    # nodes keep the dbt Cloud run as parent; their root would be the Airflow DAG run, which is not known
    assert "root" not in events[0]["run"]["facets"]["parent"] or events[0]["run"]["facets"]["parent"]["root"] is None
    for event in events:
        validate_event(event)


def test_a_cancelled_run_aborts(nightly_report):
    import msgspec

    events = _events(msgspec.structs.replace(nightly_report, status="cancelled"))

    assert events[-1]["eventType"] == "ABORT"
    assert "errorMessage" not in events[-1]["run"]["facets"]


@pytest.mark.parametrize(
    "break_it",
    [
        lambda event: event.pop("producer"),
        lambda event: event["run"]["facets"]["parent"]["run"].pop("runId"),
        lambda event: event["job"]["facets"]["jobType"].pop("integration"),
        lambda event: event["run"]["facets"]["processing_engine"].pop("version"),
        lambda event: event["run"].update(runId="not-a-uuid"),
    ],
)
def test_the_schema_check_rejects_a_broken_event(nightly_report, break_it):
    import copy

    from jsonschema import ValidationError

    event = copy.deepcopy(_events(nightly_report)[0])
    validate_event(event)
    break_it(event)

    with pytest.raises((ValidationError, ValueError)):
        validate_event(event)
