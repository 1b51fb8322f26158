"""Read APIs used by the CLI, the monitor and the web view: pipelines, runs (filters, paging), node history."""

from __future__ import annotations

import re
from datetime import timedelta

import msgspec
import pytest
import sqlalchemy as sa
from report_factory import BASE_TIME, airflow_source, make_report, monitor_source

from airflow_provider_databand_dbt.model.report import StepReport
from airflow_provider_databand_dbt.tracking.rows import NodeHistoryRow, PipelineRow, RunRow
from airflow_provider_databand_dbt.tracking.store import TrackingStore

DAY = timedelta(days=1)


@pytest.fixture()
def filled(store):
    """Six runs over six days: job 100 (errors on even days) and job 101 (always success), one running."""
    for day in range(6):
        job_id = 100 if day % 2 == 0 else 101
        status = "error" if job_id == 100 and day in (0, 4) else "success"
        if day == 5:
            status = "running"
        report = make_report(
            80000 + day,
            job_id=job_id,
            job_name="Nightly build" if job_id == 100 else "Hourly models",
            status=status,
            created_at=BASE_TIME + day * DAY,
            node_count=4 + day,
        )
        store.save_report(report, airflow_source() if day % 2 else monitor_source())
    return store


def test_list_runs_newest_first_with_summary_and_sources(filled):
    runs = filled.list_runs()

    assert all(isinstance(run, RunRow) for run in runs)
    assert [run.run_id for run in runs] == [80005, 80004, 80003, 80002, 80001, 80000]
    newest = runs[0]
    assert newest.status == "running" and newest.job_name == "Hourly models" and newest.job_id == 101
    assert newest.node_count == 9 and sum(newest.summary.values()) == 9
    assert newest.source_kinds == ["airflow"]
    assert runs[1].source_kinds == ["monitor"]
    assert newest.created_at == BASE_TIME + 5 * DAY and newest.created_at.tzinfo is not None


def test_list_runs_filters_by_job_status_and_time(filled):
    assert [r.run_id for r in filled.list_runs(job_id=100)] == [80004, 80002, 80000]
    assert [r.run_id for r in filled.list_runs(status="error")] == [80004, 80000]
    assert [r.run_id for r in filled.list_runs(status=["running", "error"])] == [80005, 80004, 80000]
    assert [r.run_id for r in filled.list_runs(job_id=101, status="success")] == [80003, 80001]
    window = filled.list_runs(since=BASE_TIME + DAY, until=BASE_TIME + 3 * DAY)
    assert [r.run_id for r in window] == [80002, 80001]  # since inclusive, until exclusive
    assert filled.list_runs(job_id=999) == []


def test_paging_and_counting_agree(filled):
    pages = [filled.list_runs(limit=4, offset=0), filled.list_runs(limit=4, offset=4)]

    assert [len(page) for page in pages] == [4, 2]
    assert [r.run_id for r in pages[0] + pages[1]] == [80005, 80004, 80003, 80002, 80001, 80000]
    assert filled.count_runs() == 6
    assert filled.count_runs(job_id=100) == 3
    assert filled.count_runs(status="error") == 2
    assert filled.count_runs(since=BASE_TIME + 4 * DAY) == 2
    assert filled.list_runs(limit=0) == []


def test_runs_created_at_the_same_time_are_ordered_by_run_id(store):
    for run_id in (90002, 90001, 90003):
        store.save_report(make_report(run_id, created_at=BASE_TIME))

    assert [r.run_id for r in store.list_runs()] == [90003, 90002, 90001]


def test_list_pipelines_counts_runs_and_shows_last_run(filled):
    pipelines = filled.list_pipelines()

    assert all(isinstance(p, PipelineRow) for p in pipelines)
    assert [(p.job_id, p.name, p.run_count) for p in pipelines] == [
        (101, "Hourly models", 3),
        (100, "Nightly build", 3),
    ]
    hourly, nightly = pipelines
    assert (hourly.last_run_id, hourly.last_status, hourly.last_run_at) == (80005, "running", BASE_TIME + 5 * DAY)
    assert (nightly.last_run_id, nightly.last_status) == (80004, "error")
    assert nightly.last_finished_at is not None
    assert nightly.project_name == "Jaffle shop" and nightly.environment_name == "Production"


def test_pipeline_keeps_known_names_when_a_report_lacks_them(store):
    store.save_report(make_report(80100, job_name="Nightly build"))
    store.save_report(make_report(80101, job_name=None))

    assert store.list_pipelines()[0].name == "Nightly build"
    assert store.get_report(80101).job_name is None  # the run itself reads back as saved


def test_node_history_lists_one_result_per_run_newest_first(filled):
    history = filled.node_history("model.jaffle_shop.node_1")

    assert all(isinstance(row, NodeHistoryRow) for row in history)
    assert [row.run_id for row in history] == [80005, 80004, 80003, 80002, 80001, 80000]
    assert {row.status for row in history} == {"error"}  # node_1 always errors in the factory
    first = history[0]
    assert first.run_status == "running" and first.run_created_at == BASE_TIME + 5 * DAY
    assert first.execution_time == pytest.approx(0.251) and first.step_index == 4
    assert [r.run_id for r in filled.node_history("model.jaffle_shop.node_1", job_id=100)] == [80004, 80002, 80000]
    assert len(filled.node_history("model.jaffle_shop.node_1", limit=2)) == 2
    assert [r.run_id for r in filled.node_history("model.jaffle_shop.node_8")] == [80005]
    assert filled.node_history("model.jaffle_shop.unknown") == []


def test_node_history_reports_the_last_step_when_a_node_ran_twice(store):
    report = make_report(80200, node_count=2)
    failed = report.steps[1].nodes[1]
    retried = msgspec.structs.replace(failed, status="success", message=None)
    report.steps.append(StepReport(index=7, name="Invoke dbt retry", status="success", nodes=[retried]))
    store.save_report(report)

    history = store.node_history(failed.unique_id)

    assert [(row.step_index, row.status) for row in history] == [(7, "success")]


QUERY_CALLS = {
    "list_runs": lambda s: s.list_runs(),
    "list_runs by job": lambda s: s.list_runs(job_id=100),
    "list_runs by status": lambda s: s.list_runs(status="error"),
    "list_runs by time": lambda s: s.list_runs(since=BASE_TIME, until=BASE_TIME + 3 * DAY),
    "count_runs by job": lambda s: s.count_runs(job_id=100),
    "list_pipelines": lambda s: s.list_pipelines(),
    "node_history": lambda s: s.node_history("model.jaffle_shop.node_1", job_id=100),
    "get_report": lambda s: s.get_report(80002),
    "list_sources": lambda s: s.list_sources(80002),
}
# A SCAN reads a whole table or index; only the unfiltered newest-first listing may walk its index.
SCAN = re.compile(r"^SCAN dbt_tracking_(run|step|node_result|source)\b")
ALLOWED_SCANS = {"list_runs": {"SCAN dbt_tracking_run USING INDEX ix_dbt_tracking_run_created"}}


@pytest.mark.parametrize("call", sorted(QUERY_CALLS))
def test_read_queries_use_indexes_on_sqlite(sqlite_url, call):
    filled_store = TrackingStore(sqlite_url)
    for day in range(3):
        filled_store.save_report(make_report(80000 + day, created_at=BASE_TIME + day * DAY, status="error"))
    statements = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append((statement, parameters))

    sa.event.listen(filled_store.engine, "before_cursor_execute", capture)
    QUERY_CALLS[call](filled_store)
    sa.event.remove(filled_store.engine, "before_cursor_execute", capture)

    raw = filled_store.engine.raw_connection()
    try:
        plans = [
            [row[3] for row in raw.cursor().execute("EXPLAIN QUERY PLAN " + sql, params).fetchall()]
            for sql, params in statements
        ]
    finally:
        raw.close()
        filled_store.close()
    assert plans
    for plan in plans:
        assert not [line for line in plan if SCAN.search(line) and line not in ALLOWED_SCANS.get(call, ())], plan
    if call.startswith("list_runs") and call != "list_runs by time":
        assert "USE TEMP B-TREE FOR ORDER BY" not in plans[0], plans[0]  # the index gives the order
