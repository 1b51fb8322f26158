"""10,000 runs across 50 jobs: added quickly, listed page by page in reasonable time."""

from __future__ import annotations

import time

import requests

from airflow_provider_databand_dbt.testing.emulator import DEMO_ACCOUNT_ID, DEMO_TOKEN

ACCOUNT = f"/api/v2/accounts/{DEMO_ACCOUNT_ID}"


def test_ten_thousand_runs(emulator):
    control = requests.Session()
    for i in range(50):
        control.post(
            f"{emulator.url}/_emulator/jobs",
            json={
                "account_id": DEMO_ACCOUNT_ID,
                "job_id": 5000 + i,
                "name": f"Job {i}",
                "scenario": "nightly_build" if i % 2 else "healthy_run",
            },
            timeout=10,
        ).raise_for_status()
    started = time.monotonic()
    for i in range(50):
        control.post(
            f"{emulator.url}/_emulator/runs",
            json={"account_id": DEMO_ACCOUNT_ID, "job_id": 5000 + i, "count": 200, "status": None},
            timeout=30,
        ).raise_for_status()
    added = time.monotonic() - started
    assert added < 5, f"adding 10,000 runs took {added:.1f}s"

    api = requests.Session()
    api.headers["Authorization"] = f"Token {DEMO_TOKEN}"
    started = time.monotonic()
    ids: list[int] = []
    offset = 0
    while True:
        body = api.get(
            f"{emulator.url}{ACCOUNT}/runs/", params={"limit": 100, "offset": offset, "order_by": "-id"}, timeout=30
        ).json()
        ids += [r["id"] for r in body["data"]]
        offset += 100
        if offset >= body["extra"]["pagination"]["total_count"]:
            break
    listed = time.monotonic() - started
    assert len(ids) == len(set(ids)) == 10_006 and ids == sorted(ids, reverse=True)
    assert listed < 30, f"paging 10,006 runs took {listed:.1f}s"

    one_job = api.get(
        f"{emulator.url}{ACCOUNT}/runs/", params={"job_definition_id": 5007, "limit": 100}, timeout=30
    ).json()
    assert one_job["extra"]["pagination"]["total_count"] == 200
    assert {r["status"] for r in one_job["data"]} == {20}
    failed = api.get(f"{emulator.url}{ACCOUNT}/runs/", params={"status": 20, "limit": 1}, timeout=30).json()
    assert failed["extra"]["pagination"]["total_count"] == 25 * 200 + 3
