"""Reading scenarios: the committed scenarios.json and the other layouts the loader accepts."""

from __future__ import annotations

import json

import pytest

from airflow_provider_databand_dbt.testing.scenarios import (
    ARTIFACTS_DIR,
    ScenarioLibrary,
    artifact_file,
    list_step_artifacts,
    status_code,
)

ENTRY = {
    "name": "tiny",
    "run_status": "error",
    "status_message": "Step 2 failed",
    "steps": [
        {
            "index": 1,
            "name": "Clone git repository",
            "command": None,
            "status": "success",
            "duration_seconds": 1.5,
            "artifacts": [],
        },
        {
            "index": 2,
            "name": "Invoke `dbt build`",
            "command": "dbt build",
            "status": "error",
            "duration_seconds": 3,
            "artifacts": ["run_results.json"],
        },
    ],
    "expected": {"dbt_version": "1.10.9"},
}


def test_committed_scenarios_match_their_folders():
    library = ScenarioLibrary()
    assert {"nightly_build", "healthy_run"} <= set(library.names())
    nightly = library.get("nightly_build")
    assert nightly.run_status == 20 and nightly.status_message
    assert nightly.steps[-1].status == 20 and "dbt build" in nightly.execute_steps
    assert library.get("healthy_run").run_status == 10
    for name in ("nightly_build", "healthy_run"):
        scenario = library.get(name)
        for step in scenario.steps:
            assert sorted(list_step_artifacts(scenario.artifacts_root, step.index)) == sorted(step.artifacts)


@pytest.mark.parametrize(
    "document",
    [{"generated_by": "x", "dbt_version": "1.10.1", "scenarios": [ENTRY]}, [ENTRY], {"tiny": ENTRY}],
    ids=["generator-document", "list", "mapping"],
)
def test_accepted_layouts(tmp_path, document):
    (tmp_path / "scenarios.json").write_text(json.dumps(document))
    step = tmp_path / "tiny" / "step_2"
    step.mkdir(parents=True)
    (step / "run_results.json").write_text("{}")
    scenario = ScenarioLibrary(tmp_path).get("tiny")
    assert scenario.run_status == 20 and scenario.status_message == "Step 2 failed"
    assert [(s.index, s.status, s.duration_seconds) for s in scenario.steps] == [(1, 10, 1.5), (2, 20, 3.0)]
    assert scenario.dbt_version == "1.10.9" and scenario.total_seconds == 4.5
    assert list_step_artifacts(scenario.artifacts_root, 2) == ["run_results.json"]


def test_without_scenarios_json_folders_are_discovered(tmp_path):
    for index in (2, 4):
        step = tmp_path / "generated" / f"step_{index}"
        step.mkdir(parents=True)
        (step / "manifest.json").write_text("{}")
    library = ScenarioLibrary(tmp_path)
    scenario = library.get("generated")
    assert [s.index for s in scenario.steps] == [1, 2, 3, 4]
    assert [s.artifacts for s in scenario.steps] == [(), ("manifest.json",), (), ("manifest.json",)]
    placeholder = library.get("no_such_folder")
    assert placeholder.run_status == 10 and len(placeholder.steps) == 3 and placeholder.artifacts_root is None


def test_artifact_file_stays_inside_the_step(tmp_path):
    (tmp_path / "step_1").mkdir()
    (tmp_path / "step_1" / "manifest.json").write_text("{}")
    (tmp_path / "secret.json").write_text("{}")
    assert artifact_file(tmp_path, 1, "manifest.json") == tmp_path / "step_1" / "manifest.json"
    for bad in ("../secret.json", "/etc/passwd", "", "a/../../secret.json", "..\\secret.json"):
        assert artifact_file(tmp_path, 1, bad) is None
    assert artifact_file(None, 1, "manifest.json") is None
    assert ARTIFACTS_DIR.is_dir()


@pytest.mark.parametrize(
    "value, code",
    [("success", 10), ("ERROR", 20), ("canceled", 30), ("queued", 1), ("3", 3), (2, 2), ("failed", 20)],
)
def test_status_code(value, code):
    assert status_code(value) == code


@pytest.mark.parametrize("value", ["exploded", 4, None, "11"])
def test_status_code_rejects(value):
    with pytest.raises(ValueError):
        status_code(value)
