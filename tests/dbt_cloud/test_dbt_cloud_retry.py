"""The retry policy's decisions, with a fake clock so budgets and waits are exact and fast."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import pytest

from airflow_provider_databand_dbt.dbt_cloud.errors import (
    DbtCloudConfigError,
    DbtCloudRateLimitError,
    DbtCloudServerError,
)
from airflow_provider_databand_dbt.dbt_cloud.retry import Failure, Retrier, RetryPolicy, parse_retry_after

NOW = datetime(2026, 11, 25, 10, 0, 0, tzinfo=timezone.utc)


class FakeClock:
    """Time that only moves when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def retrier(policy: RetryPolicy, clock: FakeClock) -> Retrier:
    return Retrier(policy, sleep=clock.sleep, clock=clock, rng=lambda a, b: b)


def server_failure(code: int = 503, retry_after: float | None = None, acted: bool = False) -> Failure:
    return Failure(
        reason=f"HTTP {code}",
        make_error=lambda note: DbtCloudServerError(f"server error ({note})", status_code=code),
        may_have_acted=acted,
        retry_after=retry_after,
    )


def rate_limited(retry_after: float | None) -> Failure:
    return Failure(
        reason="HTTP 429",
        make_error=lambda note: DbtCloudRateLimitError(f"rate limited ({note})", retry_after=retry_after),
        retry_after=retry_after,
    )


def scripted(*outcomes):
    remaining = list(outcomes)
    calls = []

    def attempt():
        calls.append(1)
        return remaining.pop(0)

    return attempt, calls


@pytest.mark.parametrize(
    ("header", "expected"),
    [("3", 3.0), (" 1.5 ", 1.5), ("0", 0.0), ("-4", 0.0), (None, None), ("", None), ("soon", None), ("nan", None)],
)
def test_parse_retry_after_seconds(header, expected):
    assert parse_retry_after(header, now=NOW) == expected


def test_parse_retry_after_http_date():
    assert parse_retry_after(format_datetime(NOW + timedelta(seconds=30), usegmt=True), now=NOW) == 30.0
    assert parse_retry_after("Wed, 25 Nov 2026 09:59:00 GMT", now=NOW) == 0.0  # in the past: go now


def test_backoff_is_exponential_capped_and_fully_jittered():
    policy = RetryPolicy(backoff_base=0.5, backoff_max=3.0)
    caps = [policy.backoff(n, rng=lambda a, b: b) for n in range(1, 7)]
    assert caps == [0.5, 1.0, 2.0, 3.0, 3.0, 3.0]
    assert policy.backoff(3, rng=lambda a, b: a) == 0.0  # full jitter: anywhere from 0
    samples = [policy.backoff(3) for _ in range(200)]
    assert all(0.0 <= s <= 2.0 for s in samples) and len(set(samples)) > 100
    assert RetryPolicy(backoff_base=0.5, jitter=False).backoff(2) == 1.0
    assert RetryPolicy(backoff_base=1, backoff_max=10).backoff(500, rng=lambda a, b: b) == 10  # no overflow


@pytest.mark.parametrize(
    "kwargs", [{"max_attempts": 0}, {"max_attempts": 1.5}, {"max_total_seconds": -1}, {"backoff_base": float("nan")}]
)
def test_policy_validates(kwargs):
    with pytest.raises(DbtCloudConfigError):
        RetryPolicy(**kwargs)


def test_defaults():
    policy = RetryPolicy()
    assert (policy.max_attempts, policy.max_total_seconds) == (5, 120.0)
    assert policy.retry_statuses == frozenset({429, 500, 502, 503, 504})


def test_retries_until_success_with_backoff(caplog):
    clock = FakeClock()
    attempt, calls = scripted(server_failure(), server_failure(), "ok")
    with caplog.at_level(logging.WARNING):
        assert retrier(RetryPolicy(backoff_base=1.0), clock).run(attempt, what="GET /x") == "ok"
    assert len(calls) == 3
    assert clock.sleeps == [1.0, 2.0]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings[0] == "dbt Cloud GET /x failed (HTTP 503); retrying in 1.0 s (attempt 2 of 5)"


def test_retry_after_is_honoured_instead_of_backoff():
    clock = FakeClock()
    attempt, _ = scripted(rate_limited(7.0), "ok")
    assert retrier(RetryPolicy(), clock).run(attempt, what="GET /x") == "ok"
    assert clock.sleeps == [7.0]


def test_retry_after_beyond_budget_stops_immediately():
    clock = FakeClock()
    attempt, calls = scripted(rate_limited(300.0), "ok")
    with pytest.raises(DbtCloudRateLimitError) as info:
        retrier(RetryPolicy(max_total_seconds=60), clock).run(attempt, what="GET /x")
    assert len(calls) == 1 and clock.sleeps == []
    assert info.value.retry_after == 300.0
    assert "asked to wait 300 s, more than the remaining retry budget of 60 s" in str(info.value)


def test_gives_up_after_max_attempts():
    clock = FakeClock()
    attempt, calls = scripted(*[server_failure()] * 10)
    with pytest.raises(DbtCloudServerError, match="gave up after 3 attempts"):
        retrier(RetryPolicy(max_attempts=3), clock).run(attempt, what="GET /x")
    assert len(calls) == 3


def test_budget_bounds_the_total_time():
    clock = FakeClock()
    attempt, calls = scripted(*[server_failure()] * 50)
    with pytest.raises(DbtCloudServerError, match="budget"):
        retrier(RetryPolicy(max_attempts=50, max_total_seconds=10, backoff_base=4, backoff_max=4), clock).run(
            attempt, what="GET /x"
        )
    assert clock.now == pytest.approx(10.0)  # the last wait was cut to what was left
    assert len(calls) == 4


def test_not_repeatable_request_is_not_retried_when_it_may_have_acted():
    clock = FakeClock()
    attempt, calls = scripted(server_failure(500, acted=True), "ok")
    with pytest.raises(DbtCloudServerError, match="may already have acted"):
        retrier(RetryPolicy(), clock).run(attempt, what="POST /run", repeatable=False)
    assert len(calls) == 1


def test_not_repeatable_request_is_retried_when_dbt_cloud_did_not_act():
    clock = FakeClock()
    attempt, calls = scripted(server_failure(503, acted=False), "ok")
    assert retrier(RetryPolicy(), clock).run(attempt, what="POST /run", repeatable=False) == "ok"
    assert len(calls) == 2


def test_non_retryable_failure_is_raised_at_once():
    clock = FakeClock()
    failure = server_failure()
    failure.retryable = False
    attempt, calls = scripted(failure, "ok")
    with pytest.raises(DbtCloudServerError):
        retrier(RetryPolicy(), clock).run(attempt, what="GET /x")
    assert len(calls) == 1


def test_raised_errors_pass_through_without_retry():
    calls = []

    def attempt():
        calls.append(1)
        raise KeyError("boom")

    with pytest.raises(KeyError):
        retrier(RetryPolicy(), FakeClock()).run(attempt, what="GET /x")
    assert len(calls) == 1
