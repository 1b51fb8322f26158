"""A large manifest's decoded size and its load on the garbage collector (issue 12's peak memory and time)."""

from __future__ import annotations

import gc
import json

from airflow_provider_databand_dbt.collector.artifacts import decode_manifest, decode_run_results
from airflow_provider_databand_dbt.collector.nodes import run_result_nodes
from airflow_provider_databand_dbt.testing.scenarios import ARTIFACTS_DIR

NIGHTLY = ARTIFACTS_DIR / "nightly_build" / "step_5"


def _many_nodes(tmp_path, copies: int = 50):
    """The fixture manifest's models, ``copies`` times under other unique ids (as a big project has)."""
    manifest = json.loads((NIGHTLY / "manifest.json").read_text())
    models = {uid: node for uid, node in manifest["nodes"].items() if node["resource_type"] == "model"}
    manifest["nodes"] = {
        f"{uid}_{k}": dict(node, name=f"{node['name']}_{k}") for k in range(copies) for uid, node in models.items()
    }
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(manifest))
    return decode_manifest(path)


def test_repeated_values_of_manifest_nodes_are_kept_once(tmp_path):
    nodes = [node for node in _many_nodes(tmp_path).nodes.values() if node.tag_list and node.depends_on.nodes]
    first, other = nodes[0], nodes[-1]
    assert first.package_name is other.package_name and first.schema is other.schema
    same_tags = [node for node in nodes if node.tag_list == first.tag_list]
    assert len(same_tags) > 1 and all(node.tag_list is first.tag_list for node in same_tags)
    parents: dict[str, str] = {}
    for node in nodes:
        for parent in node.depends_on.nodes:
            assert parents.setdefault(parent, parent) is parent


def test_decoded_manifests_and_results_leave_few_objects_for_the_garbage_collector(tmp_path):
    gc.collect()
    before = len(gc.get_objects())
    manifest = _many_nodes(tmp_path)
    results = decode_run_results(NIGHTLY / "run_results.json").results
    gc.collect()
    tracked = len(gc.get_objects()) - before
    # At most one list per node (its parents): tags are shared, a result's timings are a tuple.
    assert tracked <= len(manifest.nodes) + 50
    assert run_result_nodes(results, manifest)
