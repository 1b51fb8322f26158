"""DbtCloudTrackingRunJobTrigger: pure data (serialize round-trip) and real async polling of the emulator."""

from __future__ import annotations

import asyncio
import importlib
import time

import pytest

pytest.importorskip("airflow")

from dbt_airflow_helpers import load_json  # noqa: E402

from airflow_provider_databand_dbt.testing.emulator import DEMO_ACCOUNT_ID, HOURLY_JOB_ID, Fault  # noqa: E402

CLASSPATH = "airflow_provider_databand_dbt.triggers.dbt.DbtCloudTrackingRunJobTrigger"


def _trigger(run_id: int, *, end_in: float = 60.0, deadline_in: float | None = None, **kwargs):
    from airflow_provider_databand_dbt.triggers import DbtCloudTrackingRunJobTrigger

    now = time.time()
    return DbtCloudTrackingRunJobTrigger(
        conn_id="dbt_cloud_default",
        run_id=run_id,
        end_time=now + end_in,
        execution_deadline=None if deadline_in is None else now + deadline_in,
        poll_interval=0.1,
        account_id=DEMO_ACCOUNT_ID,
        **kwargs,
    )


async def _first_event(trigger, timeout: float = 20.0):
    runner = trigger.run()
    try:
        return await asyncio.wait_for(runner.__anext__(), timeout)
    finally:
        await runner.aclose()


def test_serialize_round_trips_through_its_classpath():
    trigger = _trigger(7, hook_params={"retry_limit": 3, "retry_delay": 0.5, "retry_args": {"wait": object()}})
    classpath, kwargs = trigger.serialize()
    assert classpath == CLASSPATH
    assert kwargs["hook_params"] == {"retry_limit": 3, "retry_delay": 0.5}  # not-JSON values dropped
    assert set(kwargs) == {
        "run_id",
        "account_id",
        "conn_id",
        "end_time",
        "execution_deadline",
        "poll_interval",
        "hook_params",
    }
    module_name, class_name = classpath.rsplit(".", 1)
    rebuilt = getattr(importlib.import_module(module_name), class_name)(**kwargs)
    assert rebuilt.serialize() == (classpath, kwargs)


def test_replaces_the_provider_trigger_with_the_same_arguments():
    from airflow.providers.dbt.cloud.triggers.dbt import DbtCloudRunJobTrigger

    from airflow_provider_databand_dbt.triggers import DbtCloudTrackingRunJobTrigger

    provider = DbtCloudRunJobTrigger(
        conn_id="c", run_id=5, end_time=123.0, poll_interval=2, account_id=1, execution_deadline=99.0
    )
    ours = DbtCloudTrackingRunJobTrigger.from_provider_trigger(provider)
    assert ours.serialize() == (CLASSPATH, provider.serialize()[1])


@pytest.mark.parametrize("case", load_json("trigger_cases.json"), ids=lambda case: case["id"])
def test_event_for_each_outcome(case, dbt_cloud_conn):
    status = case["run_status"]
    run_id = dbt_cloud_conn.add_run(DEMO_ACCOUNT_ID, HOURLY_JOB_ID, status=status)
    if status == "running":
        dbt_cloud_conn.set_run_status(run_id, "running")  # hold it there
    event = asyncio.run(_first_event(_trigger(run_id, end_in=case["end_in"], deadline_in=case["deadline_in"])))
    assert event.payload["status"] == case["event"]
    assert event.payload["run_id"] == run_id
    assert case["message"] in event.payload["message"]


def test_polls_until_the_run_ends(dbt_cloud_conn):
    run_id = dbt_cloud_conn.add_run(DEMO_ACCOUNT_ID, HOURLY_JOB_ID, status="queued")
    event = asyncio.run(_first_event(_trigger(run_id)))
    assert event.payload["status"] == "success"
    polls = [r for r in dbt_cloud_conn.requests if r.path.endswith(f"/runs/{run_id}/")]
    assert len(polls) >= 2


def test_rate_limits_outlasting_the_hook_retries_are_polled_again(dbt_cloud_conn):
    run_id = dbt_cloud_conn.seeded_runs[HOURLY_JOB_ID][-1]
    dbt_cloud_conn.inject_fault(Fault(rf"/runs/{run_id}/$", status=429, retry_after=0, times=3))
    trigger = _trigger(run_id, hook_params={"retry_limit": 2, "retry_delay": 0.01})
    event = asyncio.run(_first_event(trigger))
    assert event.payload["status"] == "success"
    statuses = [r.status for r in dbt_cloud_conn.requests if r.path.endswith(f"/runs/{run_id}/")]
    assert statuses == [429, 429, 429, 200]


def test_non_retryable_error_ends_with_an_error_event(dbt_cloud_conn):
    event = asyncio.run(_first_event(_trigger(987654)))
    assert event.payload["status"] == "error"
    assert "404" in event.payload["message"]
