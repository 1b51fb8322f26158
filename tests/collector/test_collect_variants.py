"""Collecting runs whose artifacts differ from what dbt-core 1.10 wrote: served from modified copies."""

from __future__ import annotations

import json

from airflow_provider_databand_dbt.collector.collect import collect_run
from airflow_provider_databand_dbt.testing.emulator import DEMO_ACCOUNT_ID, NIGHTLY_JOB_ID


def _rewrite(path, change) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def _step(report, index):
    return next(step for step in report.steps if step.index == index)


def test_empty_run_results_and_a_manifest_with_unknown_and_missing_fields(emulator, client, nightly_copy, expected):
    exp = expected["nightly_build"]
    _rewrite(nightly_copy / "step_5" / "run_results.json", lambda data: data.update(results=[]))

    def strip_manifest(data):
        data["brand_new_section"] = {"x": [1, {"y": None}]}
        data["metadata"]["something_new"] = True
        del data["unit_tests"], data["exposures"], data["metrics"]
        for node in data["sources"].values():
            node["unexpected"] = {"nested": [1, 2]}
            for key in ("tags", "config", "package_name"):
                node.pop(key, None)

    _rewrite(nightly_copy / "step_5" / "manifest.json", strip_manifest)
    run_id = emulator.add_run(DEMO_ACCOUNT_ID, NIGHTLY_JOB_ID, status=None, artifacts_dir=nightly_copy)

    report = collect_run(client, DEMO_ACCOUNT_ID, run_id)

    build = _step(report, 5)
    assert build.nodes == [] and build.artifacts_missing == []
    freshness = _step(report, 4)
    assert freshness.artifacts_missing == []
    by_id = {node.unique_id: node for node in freshness.nodes}
    warn_id = exp["freshness"]["warn"][0]
    assert by_id[warn_id].status == "warn"
    assert by_id[warn_id].name == "newsletter_signups"  # still joined with the stripped manifest
    assert by_id[warn_id].tags == [] and by_id[warn_id].package_name is None
    assert report.summary == exp["steps"]["4"]["by_status"]


def test_manifest_of_another_dbt_version(emulator, client, nightly_copy, expected):
    """A v12-style manifest from a newer dbt: other schema version, extra top-level keys and node fields."""
    exp = expected["nightly_build"]

    def future(data):
        data["metadata"]["dbt_schema_version"] = "https://schemas.getdbt.com/dbt/manifest/v13.json"
        data["metadata"]["dbt_version"] = "2.0.0-beta"
        data["functions"] = {"function.tiny_shop.f": {"name": "f", "resource_type": "function"}}
        data["semantic_layer_v2"] = [{"anything": "goes"}]
        for node in data["nodes"].values():
            node["doc_blocks"] = [{"future": True}]
            node["config"]["new_setting"] = {"a": 1}

    _rewrite(nightly_copy / "step_5" / "manifest.json", future)
    run_id = emulator.add_run(DEMO_ACCOUNT_ID, NIGHTLY_JOB_ID, status=None, artifacts_dir=nightly_copy)

    report = collect_run(client, DEMO_ACCOUNT_ID, run_id)

    assert all(step.artifacts_missing == [] for step in report.steps)
    assert report.summary == exp["summary"]
    nodes = {node.unique_id: node for _, node in report.iter_nodes()}
    model = nodes[exp["erroring_model"]]
    assert model.depends_on == ["model.tiny_shop.dim_customers"]
    assert model.materialization == "table" and model.code_hash
