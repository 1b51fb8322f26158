"""dbt 1.11 user-defined functions, on real artifacts (``scripts/generate_udf_artifacts.py``, PostgreSQL).

A function's result joins its entry in the manifest's ``functions`` section like a model joins ``nodes``.
"""

from __future__ import annotations

import json
from pathlib import Path

from airflow_provider_databand_dbt.collector.artifacts import decode_manifest, decode_run_results
from airflow_provider_databand_dbt.collector.nodes import run_result_nodes

UDF_SHOP = Path(__file__).parent / "data" / "udf_shop_1_11"


def _nodes():
    manifest = decode_manifest(UDF_SHOP / "manifest.json")
    results = decode_run_results(UDF_SHOP / "run_results.json").results
    return {node.unique_id: node for node in run_result_nodes(results, manifest)}


def test_the_artifacts_are_dbt_1_11_with_functions():
    manifest = json.loads((UDF_SHOP / "manifest.json").read_text())
    assert manifest["metadata"]["dbt_version"].startswith("1.11.")
    assert set(manifest["functions"]) == {
        "function.udf_shop.double_it",
        "function.udf_shop.safe_ratio",
        "function.udf_shop.broken_discount",
    }


def test_a_function_result_carries_its_manifest_definition():
    double_it = _nodes()["function.udf_shop.double_it"]
    assert (double_it.name, double_it.resource_type, double_it.status) == ("double_it", "function", "success")
    assert double_it.materialization == "function"
    assert double_it.package_name == "udf_shop"
    assert double_it.tags == ["math"]
    assert double_it.code_hash and len(double_it.code_hash) == 64
    assert (double_it.database, double_it.schema, double_it.alias) == ("postgres", "udf_shop", "double_it")


def test_a_failing_function_and_the_model_it_skips():
    nodes = _nodes()
    broken = nodes["function.udf_shop.broken_discount"]
    assert broken.status == "error" and "discount_rate_that_does_not_exist" in broken.message
    assert broken.materialization == "function"
    discounted = nodes["model.udf_shop.discounted"]
    assert discounted.status == "skipped"
    assert discounted.depends_on == ["function.udf_shop.broken_discount"]
    assert set(nodes["model.udf_shop.answers"].depends_on) == {
        "function.udf_shop.double_it",
        "function.udf_shop.safe_ratio",
    }
