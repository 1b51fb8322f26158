"""Reattach instead of re-trigger, and the trigger POST never blindly repeated: real emulator, real stores.

A try that "died" is one that recorded its run (``_get_or_trigger_run``, what execute does before
waiting) and never reached the end of execute. Runs are counted from the emulator's request log.
"""

from __future__ import annotations

import pytest

pytest.importorskip("airflow")

from dbt_airflow_helpers import FakeTaskInstance, make_operator

from airflow_provider_databand_dbt.testing.emulator import HOURLY_JOB_ID
from airflow_provider_databand_dbt.testing.emulator_faults import Fault

TRIGGER_PATH = rf"/jobs/{HOURLY_JOB_ID}/run/?$"


def _context(try_number: int) -> dict:
    ti = FakeTaskInstance(try_number=try_number)
    return {"ti": ti, "task_instance": ti, "run_id": ti.run_id}


def _trigger_posts(emulator) -> list:
    return [
        r for r in emulator.requests if r.method == "POST" and r.path.rstrip("/").endswith(f"/jobs/{HOURLY_JOB_ID}/run")
    ]


def _runs_of_job(emulator, since: set[int]) -> set[int]:
    return {rid for rid in emulator.state.job_runs.get(HOURLY_JOB_ID, []) if rid not in since}


def _died_after_trigger(tracking_url: str, **kwargs) -> int:
    """Try 1 up to the point where it starts waiting, then nothing: a SIGKILLed worker."""
    op = make_operator(task_id="died_try", job_id=HOURLY_JOB_ID, tracking_url=tracking_url, **kwargs)
    op.trigger_reason = "Triggered via Apache Airflow by task 'test_task' in the test_dag DAG."
    op.job_id = HOURLY_JOB_ID
    run_id, _url = op._get_or_trigger_run(_context(1))
    return run_id


@pytest.fixture()
def existing(dbt_cloud_conn):
    return set(dbt_cloud_conn.state.job_runs.get(HOURLY_JOB_ID, []))


def _ledger_rows(tracking_url):
    from airflow_provider_databand_dbt.tracking.store import TrackingStore
    from airflow_provider_databand_dbt.tracking.task_runs import (
        TaskInstanceKey,
        TaskTriggerLedger,
    )

    with TrackingStore(tracking_url) as store:
        return TaskTriggerLedger(store).all(TaskInstanceKey("test_dag", "test_task", "manual__test", -1))


class TestReattachRule:
    def test_a_died_try_with_a_running_run_is_reattached(
        self, dag, dbt_cloud_conn, existing, tracking_url, capfd, caplog
    ):
        dbt_cloud_conn.set_lifecycle(0.5, 2.0)
        first = _died_after_trigger(tracking_url)
        caplog.set_level("INFO")
        result = make_operator(job_id=HOURLY_JOB_ID, tracking_url=tracking_url).execute(_context(2))

        assert result == first
        assert len(_trigger_posts(dbt_cloud_conn)) == 1
        assert _runs_of_job(dbt_cloud_conn, existing) == {first}
        out, err = capfd.readouterr()
        logged = out + err + "\n".join(r.getMessage() for r in caplog.records)
        assert f"Reattached to dbt Cloud run {first} triggered by try 1" in logged
        rows = _ledger_rows(tracking_url)
        assert [(r.try_number, r.dbt_run_id, r.triggered_by_try) for r in rows] == [(1, first, 1), (2, first, 1)]
        assert all(r.ended for r in rows) and rows[-1].outcome == "success"

    def test_a_died_try_whose_run_failed_meanwhile_fails_without_a_new_run(
        self, dag, dbt_cloud_conn, existing, tracking_url
    ):
        from airflow.providers.dbt.cloud.hooks.dbt import DbtCloudJobRunException

        dbt_cloud_conn.set_run_outcome(HOURLY_JOB_ID, "error")
        first = _died_after_trigger(tracking_url)
        dbt_cloud_conn.set_run_status(first, "error")
        with pytest.raises(DbtCloudJobRunException, match=str(first)):
            make_operator(job_id=HOURLY_JOB_ID, tracking_url=tracking_url).execute(_context(2))
        assert len(_trigger_posts(dbt_cloud_conn)) == 1
        assert _ledger_rows(tracking_url)[-1].outcome == "failed"

    def test_a_try_that_ended_normally_is_retried_with_a_new_run(self, dag, dbt_cloud_conn, existing, tracking_url):
        from airflow.providers.dbt.cloud.hooks.dbt import DbtCloudJobRunException

        dbt_cloud_conn.set_run_outcome(HOURLY_JOB_ID, "error")
        with pytest.raises(DbtCloudJobRunException):
            make_operator(task_id="try_1", job_id=HOURLY_JOB_ID, tracking_url=tracking_url).execute(_context(1))
        dbt_cloud_conn.set_run_outcome(HOURLY_JOB_ID, "success")
        second = make_operator(job_id=HOURLY_JOB_ID, tracking_url=tracking_url).execute(_context(2))
        assert len(_trigger_posts(dbt_cloud_conn)) == 2
        assert second in _runs_of_job(dbt_cloud_conn, existing) and len(_runs_of_job(dbt_cloud_conn, existing)) == 2

    def test_never_always_triggers(self, dag, dbt_cloud_conn, existing, sqlite_url):
        first = _died_after_trigger(sqlite_url, reattach="never")
        second = make_operator(job_id=HOURLY_JOB_ID, tracking_url=sqlite_url, reattach="never").execute(_context(2))
        assert second != first and len(_trigger_posts(dbt_cloud_conn)) == 2

    def test_an_unknown_mode_is_refused(self, dag):
        from airflow_provider_databand_dbt.airflow_compat import AirflowException

        with pytest.raises(AirflowException, match="reattach must be one of running, never"):
            make_operator(job_id=1, reattach="always")


class TestLostTriggerResponse:
    def test_a_processed_post_whose_answer_is_lost_is_adopted(
        self, dag, dbt_cloud_conn, existing, sqlite_url, capfd, caplog
    ):
        dbt_cloud_conn.inject_fault(Fault(TRIGGER_PATH, kind="drop_after", method="POST", times=1))
        caplog.set_level("WARNING")
        result = make_operator(job_id=HOURLY_JOB_ID, tracking_url=sqlite_url).execute(_context(1))

        posts = _trigger_posts(dbt_cloud_conn)
        assert [p.status for p in posts] == [0]  # sent once, never answered
        assert _runs_of_job(dbt_cloud_conn, existing) == {result}
        out, err = capfd.readouterr()
        assert f"adopted run {result}" in out + err + "\n".join(r.getMessage() for r in caplog.records)

    def test_a_5xx_that_created_nothing_is_sent_again_once(self, dag, dbt_cloud_conn, existing, sqlite_url):
        dbt_cloud_conn.inject_fault(Fault(TRIGGER_PATH, kind="status", status=503, method="POST", times=1))
        result = make_operator(job_id=HOURLY_JOB_ID, tracking_url=sqlite_url).execute(_context(1))
        assert [p.status for p in _trigger_posts(dbt_cloud_conn)] == [503, 200]
        assert _runs_of_job(dbt_cloud_conn, existing) == {result}

    def test_a_died_try_without_an_answer_is_found_by_its_token(self, dag, dbt_cloud_conn, existing, sqlite_url):
        from airflow_provider_databand_dbt.hooks import DbtCloudTrackingHook
        from airflow_provider_databand_dbt.operators.trigger_token import (
            cause_with_token,
        )
        from airflow_provider_databand_dbt.tracking.store import TrackingStore
        from airflow_provider_databand_dbt.tracking.task_runs import (
            TaskInstanceKey,
            TaskTriggerLedger,
        )

        dbt_cloud_conn.set_lifecycle(0.5, 2.0)
        key = TaskInstanceKey("test_dag", "test_task", "manual__test", -1)
        with TrackingStore(sqlite_url) as store:  # try 1 recorded its token, then died during the POST
            TaskTriggerLedger(store).begin(
                key, try_number=1, host="h", account_id=1, job_id=HOURLY_JOB_ID, token="t0k3n"
            )
        first = (
            DbtCloudTrackingHook()
            .trigger_job_run(job_id=HOURLY_JOB_ID, cause=cause_with_token("x", "t0k3n"))
            .json()["data"]["id"]
        )

        result = make_operator(job_id=HOURLY_JOB_ID, tracking_url=sqlite_url).execute(_context(2))
        assert result == first and len(_trigger_posts(dbt_cloud_conn)) == 1


class TestCauseToken:
    def test_the_token_survives_a_long_cause_and_a_json_cause(self):
        import json

        from airflow_provider_databand_dbt.operators.trigger_token import (
            cause_has_token,
            cause_with_token,
        )

        long = cause_with_token("x" * 400, "abc")
        assert len(long) == 255 and cause_has_token(long, "abc")
        parsed = json.loads(cause_with_token(json.dumps({"parent": {"run": "r"}}), "abc"))
        assert parsed == {"parent": {"run": "r"}, "databand_dbt_token": "abc"}
