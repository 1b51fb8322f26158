"""Decoding real dbt artifacts and variants other dbt versions write."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone

import pytest

from airflow_provider_databand_dbt.collector.artifacts import (
    decode_manifest,
    decode_run_results,
    decode_sources,
    parse_timestamp,
)
from airflow_provider_databand_dbt.dbt_cloud.errors import ArtifactError
from airflow_provider_databand_dbt.testing.scenarios import ARTIFACTS_DIR

NIGHTLY = ARTIFACTS_DIR / "nightly_build"


def _write(tmp_path, name, data) -> object:
    path = tmp_path / name
    path.write_bytes(data if isinstance(data, bytes) else json.dumps(data).encode())
    return path


def test_real_manifest_decodes_nodes_sources_and_unit_tests():
    manifest = decode_manifest(NIGHTLY / "step_5" / "manifest.json")
    raw = json.loads((NIGHTLY / "step_5" / "manifest.json").read_text())
    assert manifest.dbt_version == raw["metadata"]["dbt_version"]
    assert set(manifest.nodes) == set(raw["nodes"])
    assert set(manifest.sources) == set(raw["sources"])
    assert set(manifest.unit_tests) == set(raw["unit_tests"])
    for unique_id, node in raw["nodes"].items():
        decoded = manifest.lookup(unique_id)
        assert decoded.name == node["name"]
        assert decoded.parents == node["depends_on"].get("nodes", [])
        assert decoded.materialization == node["config"]["materialized"]
        if node.get("compiled_code"):
            assert decoded.code_hash == hashlib.sha256(node["compiled_code"].encode()).hexdigest()
        else:
            assert decoded.code_hash == node["checksum"]["checksum"]
        assert decoded.compiled_code is None  # hashed and dropped while decoding
    unit_id, unit = next(iter(raw["unit_tests"].items()))
    assert manifest.lookup(unit_id).code_hash == unit["checksum"]
    assert manifest.lookup(unit_id).tag_list == unit["config"]["tags"]
    source_id = next(iter(raw["sources"]))
    assert manifest.lookup(source_id).resource_type == "source"
    assert manifest.lookup("model.other.unknown") is None


def test_real_results_decode():
    results = decode_run_results(NIGHTLY / "step_5" / "run_results.json")
    raw = json.loads((NIGHTLY / "step_5" / "run_results.json").read_text())
    assert [r.unique_id for r in results.results] == [r["unique_id"] for r in raw["results"]]
    assert [r.status for r in results.results] == [r["status"] for r in raw["results"]]
    sources = decode_sources(NIGHTLY / "step_4" / "sources.json")
    raw_sources = json.loads((NIGHTLY / "step_4" / "sources.json").read_text())
    assert [(r.unique_id, r.status) for r in sources.results] == [
        (r["unique_id"], r["status"]) for r in raw_sources["results"]
    ]


def test_manifest_of_another_dbt_version_with_unknown_and_missing_fields(tmp_path):
    manifest = {
        "metadata": {
            "dbt_schema_version": "https://schemas.getdbt.com/dbt/manifest/v99.json",
            "dbt_version": "2.0.0-fusion",
        },
        "fusion_only_block": {"anything": [1, 2, {"deep": True}]},
        "nodes": {
            "model.p.a": {"name": "a", "resource_type": "model", "new_field": {"x": 1}, "compiled_code": "select 1"},
            "model.p.b": {
                "resource_type": "model",
                "tags": "single",
                "depends_on": {"nodes": ["model.p.a"], "macros": []},
            },
            "test.p.t": {
                "name": "t",
                "config": {"materialized": "test", "severity": "warn"},
                "checksum": {"name": "none"},
            },
        },
    }
    decoded = decode_manifest(_write(tmp_path, "manifest.json", manifest))
    assert decoded.dbt_version == "2.0.0-fusion"
    assert decoded.sources == {} and decoded.unit_tests == {}
    assert decoded.nodes["model.p.a"].code_hash == hashlib.sha256(b"select 1").hexdigest()
    assert decoded.nodes["model.p.b"].name is None
    assert decoded.nodes["model.p.b"].tag_list == ["single"]
    assert decoded.nodes["model.p.b"].parents == ["model.p.a"]
    assert decoded.nodes["test.p.t"].code_hash is None
    assert decoded.nodes["test.p.t"].materialization == "test"


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty"),
        (b'{"metadata": {"dbt_version": "1.10.0"}, "results": [{"unique_id": "model.p.a", "sta', "truncated"),
        (b"\x00\xff garbage", "truncated or not valid JSON"),
        (b'{"results": {"not": "a list"}}', "unexpected shape"),
        (b'{"results": [{"status": "success"}]}', "unexpected shape"),
    ],
)
def test_unusable_files_raise_artifact_error_saying_why(tmp_path, data, reason):
    with pytest.raises(ArtifactError, match=reason):
        decode_run_results(_write(tmp_path, "run_results.json", data))


def test_empty_results_are_fine(tmp_path):
    assert decode_run_results(_write(tmp_path, "run_results.json", {"results": []})).results == []


def test_timestamps_are_aware_utc():
    assert parse_timestamp("2026-11-26T00:16:12.245236Z") == datetime(
        2026, 11, 26, 0, 16, 12, 245236, tzinfo=timezone.utc
    )
    assert parse_timestamp("2026-11-26 00:16:12") == datetime(2026, 11, 26, 0, 16, 12, tzinfo=timezone.utc)
    assert parse_timestamp("yesterday") is None
    assert parse_timestamp(None) is None
