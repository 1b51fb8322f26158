"""Joining results with the manifest into NodeResult objects, on the real nightly_build artifacts."""

from __future__ import annotations

import json

from airflow_provider_databand_dbt.collector.artifacts import (
    FreshnessCriteria,
    FreshnessResult,
    FreshnessThreshold,
    decode_manifest,
    decode_run_results,
    decode_sources,
)
from airflow_provider_databand_dbt.collector.nodes import (
    describe_age,
    freshness_message,
    freshness_nodes,
    run_result_nodes,
)
from airflow_provider_databand_dbt.testing.scenarios import ARTIFACTS_DIR, SCENARIOS_FILE

NIGHTLY = ARTIFACTS_DIR / "nightly_build"
EXPECTED = next(s for s in json.loads(SCENARIOS_FILE.read_text())["scenarios"] if s["name"] == "nightly_build")[
    "expected"
]


def test_run_results_join_the_manifest():
    manifest = decode_manifest(NIGHTLY / "step_5" / "manifest.json")
    nodes = {
        n.unique_id: n
        for n in run_result_nodes(decode_run_results(NIGHTLY / "step_5" / "run_results.json").results, manifest)
    }
    assert len(nodes) == EXPECTED["steps"]["5"]["total"]
    error = nodes[EXPECTED["erroring_model"]]
    assert error.status == "error" and "predicted_growth_rate" in error.message
    assert error.resource_type == "model" and error.materialization == "table"
    assert error.depends_on == ["model.tiny_shop.dim_customers"]
    assert error.started_at is not None and error.finished_at >= error.started_at
    assert error.code_hash and len(error.code_hash) == 64
    for unique_id in EXPECTED["skipped_nodes"]:
        assert nodes[unique_id].status == "skipped"
    assert nodes[EXPECTED["failing_test"]].status == "fail"
    assert nodes[EXPECTED["failing_test"]].failures == 1
    assert nodes[EXPECTED["warn_test"]].status == "warn"
    assert nodes[EXPECTED["unit_test"]].resource_type == "unit_test"
    assert nodes[EXPECTED["snapshot"]].resource_type == "snapshot"
    assert nodes[EXPECTED["incremental_model"]].materialization == "incremental"
    by_type: dict[str, int] = {}
    for node in nodes.values():
        by_type[node.resource_type] = by_type.get(node.resource_type, 0) + 1
    assert by_type == EXPECTED["steps"]["5"]["by_resource_type"]


def test_without_manifest_nodes_keep_what_results_say():
    nodes = run_result_nodes(decode_run_results(NIGHTLY / "step_5" / "run_results.json").results, None)
    error = next(n for n in nodes if n.unique_id == EXPECTED["erroring_model"])
    assert error.name == "customer_ltv_forecast"
    assert error.resource_type == "model"
    assert error.depends_on == [] and error.code_hash is None
    assert error.status == "error"


def test_freshness_results():
    manifest = decode_manifest(NIGHTLY / "step_4" / "manifest.json")
    nodes = {
        n.unique_id: n for n in freshness_nodes(decode_sources(NIGHTLY / "step_4" / "sources.json").results, manifest)
    }
    for status, unique_ids in EXPECTED["freshness"].items():
        for unique_id in unique_ids:
            assert nodes[unique_id].status == status
            assert nodes[unique_id].resource_type == "source"
            assert "warn after 12 hours" in nodes[unique_id].message
    warn = nodes[EXPECTED["freshness"]["warn"][0]]
    assert warn.name == "newsletter_signups" and "2 days" in warn.message


def test_freshness_message_for_errors_and_missing_criteria():
    runtime = FreshnessResult(unique_id="source.p.s.t", status="runtime error", error="Database Error: no such table")
    assert freshness_message(runtime) == "Database Error: no such table"
    stale = FreshnessResult(
        unique_id="source.p.s.t",
        status="error",
        max_loaded_at="2026-01-01T00:00:00Z",
        max_loaded_at_time_ago_in_s=8 * 86400 + 60,
        criteria=FreshnessCriteria(error_after=FreshnessThreshold(count=7, period="day")),
    )
    assert freshness_message(stale) == "max_loaded_at 2026-01-01T00:00:00Z is 8 days 1 minute old (error after 7 days)"
    assert describe_age(0) == "0 seconds"
    assert describe_age(3661) == "1 hour 1 minute"


def test_nodes_say_where_they_build():
    """database, schema and alias (a source's identifier) come from the manifest, for the store's definitions."""
    manifest = decode_manifest(NIGHTLY / "step_5" / "manifest.json")
    nodes = {
        n.unique_id: n
        for n in run_result_nodes(decode_run_results(NIGHTLY / "step_5" / "run_results.json").results, manifest)
    }
    model = nodes["model.tiny_shop.dim_customers"]
    assert (model.database, model.schema, model.alias) == ("tiny_shop", "main", "dim_customers")
    source_id = next(iter(manifest.sources))
    source = manifest.lookup(source_id)
    assert source is not None and source.identifier and source.alias is None
