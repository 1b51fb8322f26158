"""collect_run over real HTTP against the emulator, with the real dbt artifacts."""

from __future__ import annotations

import logging
import time
from collections import Counter

import pytest

from airflow_provider_databand_dbt.collector.collect import collect_run
from airflow_provider_databand_dbt.dbt_cloud.errors import DbtCloudNotFoundError
from airflow_provider_databand_dbt.model.source import TrackingSource
from airflow_provider_databand_dbt.sinks.service import TrackingService
from airflow_provider_databand_dbt.testing.emulator import (
    DEMO_ACCOUNT_ID,
    HOURLY_JOB_ID,
    NIGHTLY_JOB_ID,
    Fault,
)

ARTIFACT_PATH = "/artifacts/"


def _nodes(report) -> dict:
    return {node.unique_id: node for _, node in report.iter_nodes()}


def _step(report, index):
    return next(step for step in report.steps if step.index == index)


def _artifact_requests(emulator, run_id):
    return [r for r in emulator.requests if f"/runs/{run_id}/artifacts/" in r.path]


def _assert_steps_match(report, expected_block):
    for index, step_expected in expected_block["steps"].items():
        step = _step(report, int(index))
        assert len(step.nodes) == step_expected["total"]
        assert dict(Counter(n.status for n in step.nodes)) == step_expected["by_status"]
        assert dict(Counter(n.resource_type for n in step.nodes)) == step_expected["by_resource_type"]
        assert step.artifacts_missing == []


def test_nightly_build_run(emulator, client, store, expected):
    exp = expected["nightly_build"]
    run_id = emulator.seeded_runs[NIGHTLY_JOB_ID][-1]
    emulator.reset_request_log()
    lines = []

    report = TrackingService(store, []).track(client, DEMO_ACCOUNT_ID, run_id, progress=lines.append)

    assert report.status == "error" == exp["run_status"]
    assert (report.run_id, report.account_id, report.job_id) == (run_id, DEMO_ACCOUNT_ID, NIGHTLY_JOB_ID)
    assert report.job_name == "Nightly build"
    assert (report.project_name, report.environment_name) == ("Jaffle shop", "Production")
    assert report.host == client.host
    assert report.url and str(run_id) in report.url
    assert report.trigger_cause and report.status_message
    assert report.duration_seconds == (report.finished_at - report.started_at).total_seconds()
    assert report.collected_at is not None and report.collected_at.tzinfo is not None
    assert report.dbt_version

    _assert_steps_match(report, exp)
    assert report.summary == exp["summary"]
    assert [s.command for s in report.steps] == [None, None, "dbt deps", "dbt source freshness", "dbt build"]
    assert [s.status for s in report.steps][-1] == "error"

    nodes = _nodes(report)
    assert nodes[exp["erroring_model"]].status == "error"
    assert nodes[exp["erroring_model"]].message
    for unique_id in exp["skipped_nodes"]:
        assert nodes[unique_id].status == "skipped"
    assert nodes[exp["failing_test"]].status == "fail"
    assert nodes[exp["warn_test"]].status == "warn"
    assert nodes[exp["unit_test"]].resource_type == "unit_test"
    assert nodes[exp["snapshot"]].resource_type == "snapshot"
    for status, unique_ids in exp["freshness"].items():
        for unique_id in unique_ids:
            assert nodes[unique_id].status == status and nodes[unique_id].resource_type == "source"
            assert "max_loaded_at" in nodes[unique_id].message
    assert nodes[exp["erroring_model"]].depends_on == ["model.tiny_shop.dim_customers"]
    assert sum(1 for n in nodes.values() if n.depends_on) >= 20
    assert any(line.startswith("step 5/5 dbt build: 28 nodes") for line in lines)

    stored = store.get_report(run_id)
    assert stored.summary == exp["summary"]
    assert _nodes(stored)[exp["erroring_model"]].depends_on == ["model.tiny_shop.dim_customers"]


def test_requests_per_run_are_bounded_and_the_manifest_is_fetched_once(emulator, client):
    for job_id in (NIGHTLY_JOB_ID, HOURLY_JOB_ID):
        run_id = emulator.seeded_runs[job_id][-1]
        emulator.reset_request_log()
        report = collect_run(client, DEMO_ACCOUNT_ID, run_id)
        requests = emulator.requests
        steps_with_results = sum(1 for step in report.steps if step.nodes)
        assert len(requests) <= 3 + steps_with_results + 1
        manifests = [r for r in requests if r.path.endswith("/manifest.json")]
        assert len(manifests) == 1
        assert manifests[0].query == {"step": str(max(s.index for s in report.steps if s.nodes))}
        assert not any(r.path.endswith("/artifacts/") for r in requests)  # no listing calls


def test_healthy_run(emulator, client, expected):
    exp = expected["healthy_run"]
    report = collect_run(client, DEMO_ACCOUNT_ID, emulator.seeded_runs[HOURLY_JOB_ID][-1])
    assert report.status == "success" == exp["run_status"]
    _assert_steps_match(report, exp)
    assert report.summary == exp["summary"]
    assert report.failed_nodes() == []
    assert _nodes(report)[exp["incremental_model"]].materialization == "incremental"


def test_missing_run_results_keeps_the_other_steps(emulator, client, expected):
    emulator.inject_fault(Fault(r"/artifacts/run_results\.json$", status=404, times=1))
    report = collect_run(client, DEMO_ACCOUNT_ID, emulator.seeded_runs[HOURLY_JOB_ID][-1])
    missing = _step(report, 3).artifacts_missing
    assert [m.artifact for m in missing] == ["run_results.json"]
    assert "404" in missing[0].reason
    assert _step(report, 3).nodes == []
    assert len(_step(report, 4).nodes) == expected["healthy_run"]["steps"]["4"]["total"]
    assert len(_step(report, 5).nodes) == expected["healthy_run"]["steps"]["5"]["total"]


def test_truncated_artifact_is_recorded(emulator, client, expected):
    emulator.inject_fault(Fault(r"/artifacts/run_results\.json$", kind="truncate"))
    report = collect_run(client, DEMO_ACCOUNT_ID, emulator.seeded_runs[NIGHTLY_JOB_ID][-1])
    build = _step(report, 5)
    assert [m.artifact for m in build.artifacts_missing] == ["run_results.json"]
    assert build.artifacts_missing[0].reason
    assert build.nodes == []
    assert len(_step(report, 4).nodes) == expected["nightly_build"]["steps"]["4"]["total"]
    assert report.status == "error"


def test_corrupt_sources_is_recorded(emulator, client, expected):
    emulator.inject_fault(Fault(r"/artifacts/sources\.json$", kind="corrupt"))
    report = collect_run(client, DEMO_ACCOUNT_ID, emulator.seeded_runs[NIGHTLY_JOB_ID][-1])
    freshness = _step(report, 4)
    assert [m.artifact for m in freshness.artifacts_missing] == ["sources.json"]
    assert "JSON" in freshness.artifacts_missing[0].reason
    assert len(_step(report, 5).nodes) == expected["nightly_build"]["steps"]["5"]["total"]


def test_corrupt_manifest_is_recorded_on_its_step_and_nodes_are_kept(emulator, client, expected):
    exp = expected["nightly_build"]
    emulator.inject_fault(Fault(r"/artifacts/manifest\.json$", kind="corrupt"))
    report = collect_run(client, DEMO_ACCOUNT_ID, emulator.seeded_runs[NIGHTLY_JOB_ID][-1])
    assert [m.artifact for m in _step(report, 5).artifacts_missing] == ["manifest.json"]
    assert _step(report, 4).artifacts_missing == []
    nodes = _nodes(report)
    assert report.summary == exp["summary"]
    model = nodes[exp["erroring_model"]]
    assert (model.name, model.resource_type, model.status) == ("customer_ltv_forecast", "model", "error")
    assert model.depends_on == []


def test_project_and_environment_failures_only_cost_the_names(emulator, client, store, caplog):
    emulator.inject_fault(Fault(r"/projects/\d+/$", status=500))
    emulator.inject_fault(Fault(r"/environments/\d+/$", status=404))
    run_id = emulator.seeded_runs[NIGHTLY_JOB_ID][-1]
    with caplog.at_level(logging.WARNING, logger="airflow_provider_databand_dbt.collector"):
        report = TrackingService(store, []).track(client, DEMO_ACCOUNT_ID, run_id)
    assert report.project_name is None and report.environment_name is None
    assert (report.project_id, report.environment_id) == (10, 20)
    assert report.summary
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("project 10" in m for m in warnings) and any("environment 20" in m for m in warnings)
    assert store.get_report(run_id).summary == report.summary


def test_run_in_progress_then_finished(emulator, client, store, expected):
    exp = expected["nightly_build"]
    emulator.set_lifecycle(0.0, 0.4)
    run_id = emulator.add_run(DEMO_ACCOUNT_ID, NIGHTLY_JOB_ID, status="running")
    emulator.set_run_status(run_id, "running")  # hold it at the last step
    time.sleep(0.5)

    first = TrackingService(store, []).track(
        client, DEMO_ACCOUNT_ID, run_id, source=TrackingSource(kind="monitor", name="m")
    )
    assert first.status == "running" and not first.is_finished
    assert _step(first, 4).status == "success"
    assert len(_step(first, 4).nodes) == exp["steps"]["4"]["total"]
    assert _step(first, 5).status == "running" and _step(first, 5).nodes == []
    assert first.finished_at is None and first.duration_seconds is None

    emulator.set_run_status(run_id, "error")
    second = TrackingService(store, []).track(client, DEMO_ACCOUNT_ID, run_id, source=TrackingSource(kind="cli"))
    assert second.status == "error"
    assert second.summary == exp["summary"]

    stored_runs = store.list_runs()
    assert [r.run_id for r in stored_runs].count(run_id) == 1
    assert store.get_report(run_id).summary == exp["summary"]
    assert {s.kind for s in store.list_sources(run_id)} == {"monitor", "cli"}


def test_queued_run_with_zero_steps(emulator, client):
    emulator.set_lifecycle(60.0, 60.0)
    run_id = emulator.add_run(DEMO_ACCOUNT_ID, NIGHTLY_JOB_ID, status="queued")
    emulator.reset_request_log()
    report = collect_run(client, DEMO_ACCOUNT_ID, run_id)
    assert report.status == "queued"
    assert report.steps == [] and report.summary == {}
    assert len(emulator.requests) == 3  # run, project, environment: no artifacts to fetch


def test_unknown_run_raises_not_found(emulator, client, store):
    with pytest.raises(DbtCloudNotFoundError):
        TrackingService(store, []).track(client, DEMO_ACCOUNT_ID, 999)
    assert store.get_report(999) is None


def test_dbt_version_falls_back_to_the_artifacts(emulator, client, expected):
    emulator.add_environment(DEMO_ACCOUNT_ID, 21, 10, "No version", dbt_version=None)
    emulator.add_job(DEMO_ACCOUNT_ID, 300, "Versionless", 10, 21, scenario="nightly_build")
    run_id = emulator.add_run(DEMO_ACCOUNT_ID, 300, status=None)
    report = collect_run(client, DEMO_ACCOUNT_ID, run_id)
    assert report.dbt_version == expected["nightly_build"]["dbt_version"]


def test_collecting_never_turns_the_cycle_collector_off(emulator, client):
    """A library must not change process-wide state: the report structs are gc=False instead."""
    import gc

    seen = []
    collect_run(
        client,
        DEMO_ACCOUNT_ID,
        emulator.seeded_runs[NIGHTLY_JOB_ID][-1],
        progress=lambda message: seen.append(gc.isenabled()),
    )
    assert seen and all(seen)
    assert gc.isenabled()


def test_downloads_are_deleted_even_when_unusable(emulator, client, tmp_path, monkeypatch):
    import tempfile

    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    emulator.inject_fault(Fault(r"/artifacts/sources\.json$", kind="corrupt"))
    report = collect_run(client, DEMO_ACCOUNT_ID, emulator.seeded_runs[NIGHTLY_JOB_ID][-1])
    assert _step(report, 4).artifacts_missing and _step(report, 5).nodes
    assert list(scratch.iterdir()) == []


def test_collect_deadline_passing_during_artifacts_keeps_what_was_collected(emulator, client):
    emulator.inject_fault(Fault(r"/artifacts/manifest\.json$", kind="slow", delay=4.0))
    started = time.monotonic()
    report = collect_run(client, DEMO_ACCOUNT_ID, emulator.seeded_runs[NIGHTLY_JOB_ID][-1], deadline=1.5)
    assert time.monotonic() - started < 3.5
    missing = {m.artifact: m.reason for step in report.steps for m in step.artifacts_missing}
    assert "deadline of 1.5 s for collecting run" in missing["manifest.json"]
    assert report.status == "error" and len(report.steps) == 5
