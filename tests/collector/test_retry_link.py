"""Which run a dbt Cloud run retries, from the v2 run JSON (``retrying_run_id``, trigger ``cause_category``)."""

from __future__ import annotations

import msgspec
import pytest

from airflow_provider_databand_dbt.collector.retry_link import retry_of
from airflow_provider_databand_dbt.dbt_cloud.models import ApiRun


def _run(
    run_id: int = 500, retrying: int | None = None, category: str | None = None, cause: str = "Triggered via API"
) -> ApiRun:
    payload = {
        "id": run_id,
        "status": 10,
        "retrying_run_id": retrying,
        "can_retry": False,
        "retry_not_supported_reason": "RETRY_NOT_FAILED_RUN",
        "trigger": {"cause": cause, "job_definition_id": 1, "cause_category": category},
    }
    return msgspec.json.decode(msgspec.json.encode(payload), type=ApiRun)


def test_retrying_run_id_names_the_earlier_run():
    assert retry_of(_run(retrying=499, category="rerun")) == 499


@pytest.mark.parametrize("retrying", [500, 501, 0])
def test_a_retrying_run_id_that_is_not_an_earlier_run_is_not_guessed_at(retrying):
    assert retry_of(_run(retrying=retrying)) is None


@pytest.mark.parametrize(
    "cause, expected",
    [
        ("Rerun from failure of run #123", 123),
        ("Retry of run 42", 42),
        ("Retried from run # 7", 7),
        ("Rerun from failure", None),  # no run named
        ("Retry of run 900", None),  # a later run cannot be retried by this one
    ],
)
def test_without_retrying_run_id_a_rerun_cause_names_the_run(cause, expected):
    assert retry_of(_run(category="rerun", cause=cause)) == expected


def test_a_run_that_is_not_a_rerun_is_not_a_retry():
    assert retry_of(_run(cause="Retry of run 42")) is None  # category api/scheduled/None: the text is the user's
