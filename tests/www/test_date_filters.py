""" "Runs since/until X" gives the same runs in the CLI, the web pages' API and the Python API.

One rule (tracking/read/filters.py): ``since <= created_at < until``; a day given as ``since`` starts at
its 00:00 UTC, a day given as ``until`` is included whole; an instant without offset is UTC. Runs sit
on every boundary of 2026-03-10 to the microsecond.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from web_reports import report

from airflow_provider_databand_dbt.model.source import TrackingSource
from airflow_provider_databand_dbt.tracking.store import TrackingStore

sys.path.insert(0, str(Path(__file__).parents[1] / "cli"))
from cli_run import databand_dbt

DAY = datetime(2026, 3, 10, tzinfo=timezone.utc)
TICK = timedelta(microseconds=1)
CREATED = {
    1: DAY - TICK,
    2: DAY,
    3: DAY + timedelta(hours=12) - TICK,
    4: DAY + timedelta(hours=12),
    5: DAY + timedelta(days=1) - TICK,
    6: DAY + timedelta(days=1),
    7: DAY + timedelta(days=1) + TICK,
}
CASES = [
    ({"since": "2026-03-10", "until": "2026-03-10"}, {2, 3, 4, 5}),
    ({"since": "2026-03-10"}, {2, 3, 4, 5, 6, 7}),
    ({"until": "2026-03-10"}, {1, 2, 3, 4, 5}),
    ({"until": "2026-03-11T00:00:00Z"}, {1, 2, 3, 4, 5}),
    ({"since": "2026-03-10T12:00:00", "until": "2026-03-11"}, {4, 5, 6, 7}),
    ({"since": "2026-03-10T14:00:00+02:00", "until": "2026-03-11T00:00:00.000001+00:00"}, {4, 5, 6}),
    ({"since": "2026-03-09T23:59:59.999999Z", "until": "2026-03-10T00:00:00.000001Z"}, {1, 2}),
]


@pytest.fixture
def dated_store(tracking_url):
    with TrackingStore(tracking_url) as store:
        for run_id, created in CREATED.items():
            store.save_report(report(run_id, created_at=created), TrackingSource(kind="cli", name="test"))
    return tracking_url


def _cli_runs(url: str, bounds: dict[str, str]) -> set[int]:
    flags = [part for name, value in bounds.items() for part in (f"--{name}", value)]
    done = databand_dbt("runs", "--json", "--limit", "100", *flags, tracking_url=url)
    assert done.returncode == 0, done.stderr
    return {run["run_id"] for run in json.loads(done.stdout)["runs"]}


def _web_runs(client, bounds: dict[str, str], path: str = "/api/runs") -> set[int]:
    answer = client.get(path, params={**bounds, "page_size": "100"})
    assert answer.status_code == 200, answer.text
    data = answer.json()
    return {run["run_id"] for run in data.get("runs", data)["items"]}


def test_cli_web_and_python_api_return_the_same_runs(dated_store, app_for):
    client = app_for(dated_store)
    with TrackingStore(dated_store) as store:
        for bounds, expected in CASES:
            python_api = {r.run_id for r in store.list_runs(limit=100, **bounds)}
            assert python_api == expected, bounds
            assert _web_runs(client, bounds) == expected, bounds
            assert _web_runs(client, bounds, "/api/pipelines/500") == expected, bounds
            assert store.count_runs(**bounds) == len(expected), bounds
    for bounds, expected in CASES[:5]:  # each CLI call is a process: the day/instant/offset cases
        assert _cli_runs(dated_store, bounds) == expected, bounds


def test_bad_bounds_are_one_line_errors(dated_store, app_for):
    done = databand_dbt("runs", "--since", "last tuesday", tracking_url=dated_store)
    assert done.returncode == 2 and "--since must be a date like 2026-11-25" in done.stderr
    assert "Traceback" not in done.stderr
    done = databand_dbt("runs", "--since", "2026-03-11", "--until", "2026-03-10", tracking_url=dated_store)
    assert done.returncode == 2 and "is after until" in done.stderr, done.stderr
    answer = app_for(dated_store).get("/api/runs", params={"until": "2026-03-10T25:00"})
    assert answer.status_code == 400 and "until must be a date like" in answer.text
