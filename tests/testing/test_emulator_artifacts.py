"""Artifacts are served raw, byte for byte, with the right Content-Length, from the right step."""

from __future__ import annotations

import hashlib
import tracemalloc

import pytest

from airflow_provider_databand_dbt.testing.emulator import DEMO_ACCOUNT_ID, HOURLY_JOB_ID, NIGHTLY_JOB_ID

ACCOUNT = f"/api/v2/accounts/{DEMO_ACCOUNT_ID}"


@pytest.mark.parametrize("job_id", [NIGHTLY_JOB_ID, HOURLY_JOB_ID])
def test_every_step_artifact_is_the_file_on_disk(emulator, api, job_id):
    run_id = emulator.seeded_runs[job_id][-1]
    scenario = emulator.state.jobs[job_id].scenario
    served_any = False
    for step in scenario.steps:
        listed = api.data(f"{ACCOUNT}/runs/{run_id}/artifacts/", params={"step": step.index})
        on_disk = sorted(p.name for p in (scenario.artifacts_root / f"step_{step.index}").glob("*.json"))
        assert sorted(listed) == on_disk
        for name in listed:
            response = api.get(f"{ACCOUNT}/runs/{run_id}/artifacts/{name}", params={"step": step.index})
            expected = (scenario.artifacts_root / f"step_{step.index}" / name).read_bytes()
            assert response.status_code == 200
            assert response.headers["Content-Type"] == "application/json"
            assert int(response.headers["Content-Length"]) == len(expected)
            assert response.content == expected
            served_any = True
    assert served_any


def test_without_step_the_last_step_having_the_file(emulator, api):
    run_id = emulator.seeded_runs[NIGHTLY_JOB_ID][-1]
    root = emulator.scenarios.get("nightly_build").artifacts_root
    manifest = api.get(f"{ACCOUNT}/runs/{run_id}/artifacts/manifest.json")
    assert manifest.content == (root / "step_5" / "manifest.json").read_bytes()
    sources = api.get(f"{ACCOUNT}/runs/{run_id}/artifacts/sources.json")
    assert sources.content == (root / "step_4" / "sources.json").read_bytes()
    assert set(api.data(f"{ACCOUNT}/runs/{run_id}/artifacts/")) == {"manifest.json", "run_results.json", "sources.json"}


@pytest.mark.parametrize(
    "name, params",
    [
        ("manifest.json", {"step": 1}),
        ("run_results.json", {"step": 4}),
        ("catalog.json", {}),
        ("manifest.json", {"step": 99}),
        ("%2E%2E%2Fscenarios.json", {}),
        ("step_5%2Fmanifest.json", {}),
    ],
)
def test_missing_artifacts_404(emulator, api, check_envelope, name, params):
    run_id = emulator.seeded_runs[NIGHTLY_JOB_ID][-1]
    response = api.get(f"{ACCOUNT}/runs/{run_id}/artifacts/{name}", params=params)
    assert response.status_code == 404
    check_envelope(response.json(), 404)


def test_unknown_run_artifacts_404(api):
    assert api.get(f"{ACCOUNT}/runs/123/artifacts/").status_code == 404
    assert api.get(f"{ACCOUNT}/runs/123/artifacts/manifest.json").status_code == 404


def test_artifacts_dir_override_streams_big_files(emulator, api, tmp_path):
    """A 64 MB manifest goes out with sendfile; neither side holds it in memory."""
    step_dir = tmp_path / "step_5"
    step_dir.mkdir()
    big = step_dir / "manifest.json"
    digest = hashlib.sha256()
    block = b'{"nodes": {' + b" " * (1024 * 1024 - 12) + b"\n"
    with big.open("wb") as fh:
        for _ in range(64):
            fh.write(block)
            digest.update(block)
    size = big.stat().st_size
    run_id = emulator.add_run(DEMO_ACCOUNT_ID, NIGHTLY_JOB_ID, status="error", artifacts_dir=tmp_path)
    assert api.data(f"{ACCOUNT}/runs/{run_id}/artifacts/", params={"step": 5}) == ["manifest.json"]
    assert api.get(f"{ACCOUNT}/runs/{run_id}/artifacts/sources.json", params={"step": 4}).status_code == 404

    tracemalloc.start()
    try:
        received = hashlib.sha256()
        count = 0
        with api.get(f"{ACCOUNT}/runs/{run_id}/artifacts/manifest.json", params={"step": 5}, stream=True) as response:
            assert response.status_code == 200
            assert int(response.headers["Content-Length"]) == size
            for chunk in response.iter_content(256 * 1024):
                received.update(chunk)
                count += len(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == size and received.hexdigest() == digest.hexdigest()
    assert peak < 16 * 1024 * 1024, f"peak Python memory {peak / 1e6:.1f} MB while serving 64 MB"


def test_run_flags_follow_artifacts(emulator, api):
    nightly = api.data(f"{ACCOUNT}/runs/{emulator.seeded_runs[NIGHTLY_JOB_ID][0]}/")
    hourly = api.data(f"{ACCOUNT}/runs/{emulator.seeded_runs[HOURLY_JOB_ID][0]}/")
    assert nightly["has_sources_generated"] is True and hourly["has_sources_generated"] is False
    assert nightly["artifacts_saved"] is hourly["artifacts_saved"] is True
