"""The emulator's per-account limit: a breach locks the account out (429, Retry-After), counted by the control API."""

from __future__ import annotations

import time

import requests

from airflow_provider_databand_dbt.testing.emulator import DEMO_ACCOUNT_ID, DEMO_TOKEN

HEADERS = {"Authorization": f"Token {DEMO_TOKEN}"}


def _get(emulator) -> requests.Response:
    return requests.get(f"{emulator.url}/api/v2/accounts/{DEMO_ACCOUNT_ID}/", headers=HEADERS, timeout=10)


def test_a_breach_locks_the_account_out_for_the_lockout(emulator):
    answer = requests.post(
        f"{emulator.url}/_emulator/rate_limit", json={"requests_per_minute": 5, "lockout_seconds": 1.5}, timeout=10
    )
    assert answer.status_code == 200
    assert [_get(emulator).status_code for _ in range(5)] == [200] * 5
    breach = _get(emulator)
    assert breach.status_code == 429
    assert breach.headers["Retry-After"] == "2"  # whole seconds, rounded up
    assert _get(emulator).status_code == 429  # every request of the account during the lock-out
    counts = requests.get(f"{emulator.url}/_emulator/rate_limit", timeout=10).json()["data"]
    account = counts["accounts"][str(DEMO_ACCOUNT_ID)]
    assert (counts["requests"], counts["rate_limited"]) == (7, 2)
    assert account["lockouts"] == 1 and account["busiest_60s"] == 6 and account["locked_for"] > 0
    time.sleep(1.6)
    assert _get(emulator).status_code == 200


def test_no_limit_by_default_but_requests_are_counted(emulator):
    assert all(_get(emulator).status_code == 200 for _ in range(20))
    assert emulator.rate_limit_counts["rate_limited"] == 0
    assert emulator.rate_limit_counts["requests"] == 20


def test_bad_limit_is_a_400(emulator):
    answer = requests.post(f"{emulator.url}/_emulator/rate_limit", json={"requests_per_minute": 0}, timeout=10)
    assert answer.status_code == 400
