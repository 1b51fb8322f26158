"""Triggered runs move queued → running → final by wall-clock time; cancel, forced statuses, overrides."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from airflow_provider_databand_dbt.testing.emulator import DEMO_ACCOUNT_ID, HOURLY_JOB_ID, NIGHTLY_JOB_ID
from airflow_provider_databand_dbt.testing.emulator_state import EmulatorState
from airflow_provider_databand_dbt.testing.scenarios import ScenarioLibrary

ACCOUNT = f"/api/v2/accounts/{DEMO_ACCOUNT_ID}"
STEPS = {"include_related": '["run_steps"]'}


def ts(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def trigger(api, job_id: int, **body) -> dict:
    body.setdefault("cause", "Triggered by a test")
    response = api.post(f"{ACCOUNT}/jobs/{job_id}/run/", json=body)
    assert response.status_code == 200, response.text
    return response.json()["data"]


def test_trigger_accepts_the_airflow_provider_payload(emulator, api):
    # DbtCloudHook.trigger_job_run sends a JSON string body with None overrides.
    payload = json.dumps(
        {
            "cause": "Triggered via Apache Airflow by task 'run' in the dag DAG.",
            "steps_override": None,
            "schema_override": "dbt_ci",
            "git_branch": "feature/x",
        }
    )
    response = api.post(
        f"{ACCOUNT}/jobs/{NIGHTLY_JOB_ID}/run/", data=payload, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 200
    run = response.json()["data"]
    assert run["status"] == 1 and run["status_humanized"] == "Queued" and run["in_progress"] is True
    assert run["started_at"] is None and run["finished_at"] is None
    assert run["job_definition_id"] == NIGHTLY_JOB_ID and run["id"] > max(emulator.seeded_runs[HOURLY_JOB_ID])
    assert run["trigger"]["cause"].startswith("Triggered via Apache Airflow")
    assert run["trigger"]["schema_override"] == "dbt_ci" and run["trigger"]["steps_override"] is None
    assert run["git_branch"] == "feature/x" and run["job"]["name"] == "Nightly build"
    assert run["href"].endswith(f"/runs/{run['id']}/")
    assert api.data(f"{ACCOUNT}/runs/", params={"order_by": "-id", "limit": 1})[0]["id"] == run["id"]


@pytest.mark.parametrize("body", [{}, {"cause": ""}, {"cause": "x" * 256}, {"cause": "x", "steps_override": "dbt run"}])
def test_trigger_rejects_bad_bodies(api, body):
    assert api.post(f"{ACCOUNT}/jobs/{NIGHTLY_JOB_ID}/run/", json=body).status_code == 400


def test_trigger_invalid_json_and_unknown_job(api):
    assert api.post(f"{ACCOUNT}/jobs/{NIGHTLY_JOB_ID}/run/", data="{not json").status_code == 400
    assert api.post(f"{ACCOUNT}/jobs/999/run/", json={"cause": "x"}).status_code == 404


def test_lifecycle_timing(emulator, api, wait_for):
    emulator.set_lifecycle(queued_seconds=0.2, running_seconds=0.2)
    run = trigger(api, HOURLY_JOB_ID)
    seen = [run["status"]]

    def finished():
        current = api.data(f"{ACCOUNT}/runs/{run['id']}/", params=STEPS)
        if current["status"] != seen[-1]:
            seen.append(current["status"])
        return current if current["is_complete"] else None

    final = wait_for(finished, timeout=10)
    assert seen[0] == 1 and seen[-1] == 10 and set(seen) <= {1, 3, 10} and seen == sorted(seen)
    created, started, ended = (ts(final[k]) for k in ("created_at", "started_at", "finished_at"))
    assert started - created == pytest.approx(0.2, abs=0.01)
    assert ended - started == pytest.approx(0.2, abs=0.01)
    assert [s["status"] for s in final["run_steps"]] == [10] * 5
    assert ts(final["run_steps"][-1]["finished_at"]) == pytest.approx(ended, abs=0.001)


def test_steps_and_artifacts_while_running(emulator, api, wait_for):
    # nightly_build: steps 1-3 take ~no time, step 4 about 54 % and step 5 the rest of 2 s.
    emulator.set_lifecycle(queued_seconds=0.0, running_seconds=2.0)
    run_id = trigger(api, NIGHTLY_JOB_ID)["id"]
    run_path = f"{ACCOUNT}/runs/{run_id}"

    def at_step(index):
        def check():
            run = api.data(f"{run_path}/", params=STEPS)
            return run if run["run_steps"] and run["run_steps"][-1]["index"] == index else None

        return check

    run = wait_for(at_step(4), timeout=5)
    assert run["status"] == 3 and run["in_progress"] and run["finished_at"] is None
    assert [s["status"] for s in run["run_steps"]] == [10, 10, 10, 3]
    assert run["run_steps"][-1]["finished_at"] is None
    listed = api.data(f"{run_path}/artifacts/")
    step4 = api.get(f"{run_path}/artifacts/sources.json", params={"step": 4})
    if api.data(f"{run_path}/", params=STEPS)["run_steps"][-1]["index"] == 4:  # still on step 4
        assert listed == [] and step4.status_code == 404

    run = wait_for(at_step(5), timeout=5)
    assert [s["status"] for s in run["run_steps"]] == [10, 10, 10, 10, 3]
    assert api.get(f"{run_path}/artifacts/sources.json", params={"step": 4}).status_code == 200
    assert api.get(f"{run_path}/artifacts/sources.json").status_code == 200
    if not api.data(f"{run_path}/")["is_complete"]:
        assert api.get(f"{run_path}/artifacts/run_results.json").status_code == 404
        assert "run_results.json" not in api.data(f"{run_path}/artifacts/")

    done = wait_for(lambda: (r := api.data(f"{run_path}/", params=STEPS))["is_complete"] and r, timeout=5)
    assert done["status"] == 20 and done["status_message"] and done["run_steps"][-1]["status"] == 20
    assert api.get(f"{run_path}/artifacts/run_results.json").status_code == 200


def test_cancel(emulator, api):
    emulator.set_lifecycle(queued_seconds=0.0, running_seconds=60.0)
    run_id = trigger(api, NIGHTLY_JOB_ID)["id"]
    response = api.post(f"{ACCOUNT}/runs/{run_id}/cancel/")
    assert response.status_code == 200
    cancelled = response.json()["data"]
    assert cancelled["status"] == 30 and cancelled["is_cancelled"] and cancelled["finished_at"]
    run = api.data(f"{ACCOUNT}/runs/{run_id}/", params=STEPS)
    assert run["status"] == 30 and run["run_steps"][-1]["status"] == 30
    assert api.data(f"{ACCOUNT}/runs/{run_id}/artifacts/") == []
    # Cancelling a finished run changes nothing.
    finished = emulator.seeded_runs[HOURLY_JOB_ID][0]
    assert api.post(f"{ACCOUNT}/runs/{finished}/cancel/").json()["data"]["status"] == 10


def test_cancel_while_queued(emulator, api):
    emulator.set_lifecycle(queued_seconds=60.0, running_seconds=1.0)
    run_id = trigger(api, HOURLY_JOB_ID)["id"]
    run = api.post(f"{ACCOUNT}/runs/{run_id}/cancel/").json()["data"]
    assert run["status"] == 30 and run["started_at"] is None
    assert api.data(f"{ACCOUNT}/runs/{run_id}/", params=STEPS)["run_steps"] == []


def test_set_run_status_holds_and_releases(emulator, api):
    run_id = emulator.seeded_runs[HOURLY_JOB_ID][-1]
    emulator.set_run_status(run_id, "running")
    run = api.data(f"{ACCOUNT}/runs/{run_id}/", params=STEPS)
    assert run["status"] == 3 and run["finished_at"] is None and run["run_steps"][-1]["status"] == 3
    assert emulator.run_status(run_id) == 3
    emulator.set_run_status(run_id, "queued")
    assert api.data(f"{ACCOUNT}/runs/{run_id}/")["status"] == 1
    emulator.set_run_status(run_id, 10)
    run = api.data(f"{ACCOUNT}/runs/{run_id}/", params=STEPS)
    assert run["status"] == 10 and run["finished_at"] and {s["status"] for s in run["run_steps"]} == {10}
    with pytest.raises(ValueError):
        emulator.set_run_status(run_id, "exploded")


def test_set_run_outcome(emulator, api, wait_for):
    emulator.set_lifecycle(queued_seconds=0.0, running_seconds=0.1)
    emulator.set_run_outcome(HOURLY_JOB_ID, "error")
    run_id = trigger(api, HOURLY_JOB_ID)["id"]
    run = wait_for(lambda: (r := api.data(f"{ACCOUNT}/runs/{run_id}/", params=STEPS))["is_complete"] and r)
    assert run["status"] == 20 and run["run_steps"][-1]["status"] == 20 and run["status_message"]
    emulator.set_run_outcome(HOURLY_JOB_ID, None)
    run_id = trigger(api, HOURLY_JOB_ID)["id"]
    assert wait_for(lambda: (r := api.data(f"{ACCOUNT}/runs/{run_id}/"))["is_complete"] and r)["status"] == 10


def test_steps_override_keeps_known_commands(emulator, api, wait_for):
    emulator.set_lifecycle(queued_seconds=0.0, running_seconds=0.1)
    run = trigger(api, NIGHTLY_JOB_ID, steps_override=["dbt build", "dbt docs generate"])
    assert run["trigger"]["steps_override"] == ["dbt build", "dbt docs generate"]
    run_path = f"{ACCOUNT}/runs/{run['id']}"
    done = wait_for(lambda: (r := api.data(f"{run_path}/", params=STEPS))["is_complete"] and r)
    names = [s["name"] for s in done["run_steps"]]
    assert names[:2] == ["Clone git repository", "Create profile from connection DuckDB"]
    assert len(names) == 4 and "dbt build" in names[2] and names[3] == "Invoke `dbt docs generate`"
    # The override's `dbt build` step serves the scenario's build artifacts under its new index.
    served = api.get(f"{run_path}/artifacts/run_results.json", params={"step": 3})
    original = emulator.scenarios.get("nightly_build").artifacts_root / "step_5" / "run_results.json"
    assert served.content == original.read_bytes()


def test_rerun(emulator, api):
    response = api.post(f"{ACCOUNT}/jobs/{NIGHTLY_JOB_ID}/rerun/")
    assert response.status_code == 200
    run = response.json()["data"]
    assert run["status"] == 1 and run["trigger"]["cause"] and run["job_definition_id"] == NIGHTLY_JOB_ID


def test_add_run_active_statuses(emulator, api):
    emulator.set_lifecycle(queued_seconds=30.0, running_seconds=30.0)
    queued = emulator.add_run(DEMO_ACCOUNT_ID, HOURLY_JOB_ID, status="queued")
    running = emulator.add_run(DEMO_ACCOUNT_ID, HOURLY_JOB_ID, status="running")
    assert api.data(f"{ACCOUNT}/runs/{queued}/")["status"] == 1
    run = api.data(f"{ACCOUNT}/runs/{running}/", params=STEPS)
    assert run["status"] == 3 and run["started_at"] and len(run["run_steps"]) >= 1
    cancelled = emulator.add_run(DEMO_ACCOUNT_ID, NIGHTLY_JOB_ID, status="cancelled")
    run = api.data(f"{ACCOUNT}/runs/{cancelled}/", params=STEPS)
    assert run["status"] == 30 and 0 < len(run["run_steps"]) < 5 and run["run_steps"][-1]["status"] == 30


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def test_step_visibility_by_exact_time():
    """The same rules with a controlled clock: every instant of a run is checked exactly."""
    clock = FakeClock()
    state = EmulatorState(ScenarioLibrary(), clock=clock)
    state.add_account(1, "t")
    state.add_job(1, 5, "job", 10, 20, scenario="healthy_run")
    state.set_lifecycle(queued_seconds=10.0, running_seconds=100.0)
    run_id = state.trigger(1, 5, {"cause": "test"}, default_cause=None)
    scenario = state.jobs[5].scenario
    total = scenario.total_seconds
    ends = []
    elapsed = 0.0
    for step in scenario.steps:
        elapsed += step.duration_seconds
        ends.append(10.0 + 100.0 * elapsed / total)

    def status_at(offset):
        clock.now = 1_800_000_000.0 + offset
        _, snap, _ = state.snapshot(1, run_id)
        return snap

    assert status_at(9.99).status == 1 and status_at(9.99).steps == ()
    snap = status_at(10.0)
    assert snap.status == 3 and snap.started_at == pytest.approx(1_800_000_010.0)
    for end in ends[:-1]:
        done = sum(1 for e in ends if e <= end + 0.001)
        snap = status_at(end + 0.001)
        assert [s.status for s in snap.steps] == [10] * done + [3], end
    assert status_at(109.99).status == 3
    final = status_at(110.0)
    assert final.status == 10 and len(final.steps) == len(ends)
    assert final.finished_at == pytest.approx(1_800_000_110.0)
    assert status_at(1000.0) is final  # finished snapshots are kept, not recomputed


def test_held_running_never_finishes_a_zero_length_last_step(tmp_path):
    (tmp_path / "scenarios.json").write_text(
        '[{"name": "instant", "run_status": "success", "steps": ['
        '{"index": 1, "name": "a", "status": "success", "duration_seconds": 1},'
        '{"index": 2, "name": "b", "status": "success", "duration_seconds": 0}]}]'
    )
    clock = FakeClock()
    state = EmulatorState(ScenarioLibrary(tmp_path), clock=clock)
    state.add_account(1, "t")
    state.add_job(1, 5, "job", 10, 20, scenario="instant")
    run_id = state.add_runs(1, 5, 1, status="success")[0]
    state.set_run_status(run_id, "running")
    clock.now += 3600
    _, snap, _ = state.snapshot(1, run_id)
    assert snap.status == 3 and [(s.index, s.status) for s in snap.steps] == [(1, 10), (2, 3)]
    assert snap.steps[-1].finished_at is None
