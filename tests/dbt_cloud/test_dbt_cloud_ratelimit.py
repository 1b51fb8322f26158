"""The per-minute ceiling: burst, steady rate, and fairness across threads."""

from __future__ import annotations

import threading

import pytest

from airflow_provider_databand_dbt.dbt_cloud.errors import DbtCloudConfigError
from airflow_provider_databand_dbt.dbt_cloud.ratelimit import TokenBucket


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.lock = threading.Lock()

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        pass  # waits are asserted from the returned values; time moves explicitly


def test_burst_then_steady_rate():
    clock = FakeClock()
    bucket = TokenBucket(60, burst=3, clock=clock, sleep=clock.sleep)
    assert [bucket.acquire() for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.acquire() == pytest.approx(1.0)  # one per second after the burst
    assert bucket.acquire() == pytest.approx(2.0)  # queued behind the previous caller
    clock.now = 10.0
    assert bucket.acquire() == 0.0  # refilled (up to the burst size)


def test_default_burst_is_ten_seconds_worth():
    assert TokenBucket(60).burst == 10
    assert TokenBucket(600).burst == 100
    assert TokenBucket(1).burst == 1


@pytest.mark.parametrize("rate", [0, -5, float("inf"), "60", True])
def test_invalid_rate(rate):
    with pytest.raises(DbtCloudConfigError, match="max_requests_per_minute"):
        TokenBucket(rate)


def test_concurrent_callers_each_get_their_own_slot():
    clock = FakeClock()
    bucket = TokenBucket(120, burst=1, clock=clock, sleep=clock.sleep)
    waits: list[float] = []
    lock = threading.Lock()
    barrier = threading.Barrier(20)

    def worker():
        barrier.wait()
        wait = bucket.acquire()
        with lock:
            waits.append(wait)

    threads = [threading.Thread(target=worker) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(waits) == pytest.approx([i * 0.5 for i in range(20)])


def test_real_sleep_enforces_the_rate():
    import time

    bucket = TokenBucket(600, burst=1)  # 10 per second
    started = time.monotonic()
    for _ in range(4):
        bucket.acquire()
    assert time.monotonic() - started >= 0.29
