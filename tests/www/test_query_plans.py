"""Every query the pages and the API send is served by an index: checked with SQLite's EXPLAIN QUERY PLAN."""

from __future__ import annotations

import re
import sqlite3

import pytest
from sqlalchemy import event
from web_fill import FAILING_TEST_ID

from airflow_provider_databand_dbt.testing.emulator import NIGHTLY_JOB_ID

# Tables that grow with the number of runs and nodes; the pipeline table stays small.
BIG_TABLES = ("dbt_tracking_run", "dbt_tracking_node_result", "dbt_tracking_source", "dbt_tracking_step")


def _plan_problems(plan_lines: list[str]) -> list[str]:
    problems = []
    for line in plan_lines:
        match = re.match(r"SCAN (\w+)(.*)", line)
        if match and match.group(1) in BIG_TABLES and "USING" not in match.group(2):
            problems.append(line)
        if match and match.group(1) in BIG_TABLES[1:]:
            problems.append(line)  # node results, sources and steps are only ever searched by run
    return problems


@pytest.fixture()
def sqlite_web(web_db):
    url, filled = web_db
    if not url.startswith("sqlite"):
        pytest.skip("query plans are checked on SQLite")
    return url, filled


def test_pages_and_api_use_indexes(app_for, sqlite_web):
    url, filled = sqlite_web
    client = app_for(url)
    client.get("/api/health")  # opens the store
    seen = _record_selects(client.app.state.store.store.engine)

    run = filled.latest_failed_run
    for path in (
        "/",
        f"/pipelines/{NIGHTLY_JOB_ID}?status=error&since=2020-01-01&until=2999-01-01",
        "/runs",
        "/runs?status=success",
        f"/runs/{run}",
        f"/runs/{run}?type=model&status=error&q=ltv&step=5",
        f"/nodes/{FAILING_TEST_ID}",
        f"/nodes/{FAILING_TEST_ID}?job_id={NIGHTLY_JOB_ID}",
        "/nodes?q=orders",
        "/api/pipelines",
        f"/api/pipelines/{NIGHTLY_JOB_ID}",
        f"/api/nodes/{FAILING_TEST_ID}",
        f"/api/runs/{run}",
        f"/api/runs/{run}/lineage",
        f"/api/runs/{run}/timeline",
    ):
        assert client.get(path).status_code == 200, path
    assert len(seen) > 20
    _assert_indexed(url, seen)


def _record_selects(engine) -> list[tuple[str, tuple]]:
    seen: list[tuple[str, tuple]] = []

    @event.listens_for(engine, "before_cursor_execute")
    def record(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append((statement, tuple(parameters or ())))

    return seen


def _assert_indexed(url: str, seen: list[tuple[str, tuple]]) -> None:
    raw = sqlite3.connect(url.removeprefix("sqlite:///"))
    try:
        problems = {}
        for statement, parameters in seen:
            plan = [row[-1] for row in raw.execute(f"EXPLAIN QUERY PLAN {statement}", parameters)]
            bad = _plan_problems(plan)
            if bad:
                problems[statement] = bad
    finally:
        raw.close()
    assert not problems, problems


def test_run_counts_are_read_from_the_pipeline_rows(app_for, sqlite_url):
    """The Pipelines pages read each pipeline's stored run count; no query counts its runs."""
    from datetime import timedelta

    from web_reports import T0, cli_source, report

    from airflow_provider_databand_dbt.tracking.store import TrackingStore

    with TrackingStore(sqlite_url) as store:
        for run_id in range(1, 4):
            store.save_report(report(run_id, created_at=T0 + timedelta(hours=run_id)), cli_source())
        client = app_for(sqlite_url)
        assert client.get("/api/pipelines").json()["items"][0]["run_count"] == 3
        seen = _record_selects(client.app.state.store.store.engine)
        store.save_report(report(9, created_at=T0 + timedelta(hours=9)), cli_source())
        for path in ("/", "/api/pipelines", "/pipelines/500", "/api/pipelines/500?status=success"):
            assert client.get(path).status_code == 200, path
    assert not any(
        "count(" in statement.lower() and "dbt_tracking_run.pipeline_id IN" in statement for statement, _ in seen
    )
    assert client.get("/api/pipelines").json()["items"][0]["run_count"] == 4
    _assert_indexed(sqlite_url, seen)


def test_plan_checker_flags_full_scans():
    assert _plan_problems(["SCAN dbt_tracking_node_result"])
    assert _plan_problems(["SCAN dbt_tracking_run"])
    assert _plan_problems(["SCAN dbt_tracking_source USING INDEX ix_dbt_tracking_source_run"])
    assert not _plan_problems(["SCAN dbt_tracking_run USING COVERING INDEX ix_dbt_tracking_run_created"])
    assert not _plan_problems(
        ["SEARCH dbt_tracking_node_result USING INDEX ix (run_pk=?)", "SCAN dbt_tracking_pipeline"]
    )
