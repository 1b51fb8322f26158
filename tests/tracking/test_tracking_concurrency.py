"""Several trackers saving the same run at once (processes and threads): one run, no duplicate rows."""

from __future__ import annotations

import multiprocessing
import threading

import sqlalchemy as sa
import tracking_workers
from report_factory import make_report
from store_probe import legacy_versions, load_legacy_fixture, schema_revisions

from airflow_provider_databand_dbt.model.source import TrackingSource
from airflow_provider_databand_dbt.tracking import schema
from airflow_provider_databand_dbt.tracking.migrations import LEGACY_FENCE, VERSION_TABLE, head_revision
from airflow_provider_databand_dbt.tracking.store import TrackingStore

RUN_ID = 91000
ROUNDS = 3


def _counts(url: str) -> dict[str, int]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return {
                table.name.removeprefix(schema.PREFIX): conn.execute(
                    sa.select(sa.func.count()).select_from(table)
                ).scalar_one()
                for table in (
                    schema.runs,
                    schema.steps,
                    schema.node_results,
                    schema.sources,
                    schema.pipelines,
                    schema.schema_version,
                    sa.table(VERSION_TABLE),
                )
                if sa.inspect(conn).has_table(table.name)
            }
    finally:
        engine.dispose()


def _run_processes(target, argument_sets: list[tuple]) -> list[tuple]:
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(len(argument_sets))
    results = ctx.Queue()
    processes = [ctx.Process(target=target, args=(args[0], barrier, results, *args[1:])) for args in argument_sets]
    for process in processes:
        process.start()
    collected = [results.get(timeout=120) for _ in processes]
    for process in processes:
        process.join(timeout=30)
    return collected


def test_two_processes_saving_the_same_run_leave_one_run(tracking_url):
    results = _run_processes(
        tracking_workers.save_same_run,
        [(tracking_url, "airflow", RUN_ID, ROUNDS), (tracking_url, "monitor", RUN_ID, ROUNDS)],
    )

    errors = [error for _, _, error in results if error]
    assert not errors, errors[0]
    actions = [action for _, child_actions, _ in results for action in child_actions]
    assert actions.count("created") == 1
    assert set(actions) <= {"created", "updated", "kept_newer"}
    counts = _counts(tracking_url)
    assert counts["run"] == 1 and counts["pipeline"] == 1
    assert counts["step"] == 2
    assert counts["node_result"] == 300  # the finished snapshot, never mixed with a running one
    assert counts["source"] == 2 * 2 * ROUNDS
    assert counts["schema_version"] == 1 and counts["alembic_version"] == 1  # the legacy fence, and head
    store = TrackingStore(tracking_url)
    try:
        assert store.get_report(RUN_ID) == make_report(RUN_ID, status="success", node_count=300)
        assert {s.kind for s in store.list_sources(RUN_ID)} == {"airflow", "monitor"}
    finally:
        store.close()


def test_concurrent_first_opens_create_the_schema_once(tracking_url):
    results = _run_processes(tracking_workers.open_store, [(tracking_url, f"p{i}") for i in range(4)])

    assert [error for _, error in results if error] == []
    counts = _counts(tracking_url)
    assert counts["schema_version"] == 1 and counts["alembic_version"] == 1
    assert schema_revisions(tracking_url) == [head_revision()]


def test_concurrent_opens_of_a_legacy_store_upgrade_it_once(tracking_url):
    load_legacy_fixture(tracking_url, "v1")
    before = _counts(tracking_url)

    results = _run_processes(tracking_workers.open_store, [(tracking_url, f"p{i}") for i in range(3)])

    assert [error for _, error in results if error] == []
    after = _counts(tracking_url)
    assert after == {**before, "schema_version": 1, "alembic_version": 1}  # every tracked row kept
    assert schema_revisions(tracking_url) == [head_revision()] and legacy_versions(tracking_url) == [LEGACY_FENCE]


def test_threads_saving_the_same_run_share_one_store(store, tracking_url):
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def save(thread_number: int) -> None:
        try:
            start.wait(timeout=30)
            for status in ("running", "error"):
                report = make_report(RUN_ID, status=status, node_count=200)
                store.save_report(report, TrackingSource(kind="api", name=f"thread-{thread_number}"))
        except BaseException as error:  # surfaced below
            errors.append(error)

    threads = [threading.Thread(target=save, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert errors == []
    counts = _counts(tracking_url)
    assert (counts["run"], counts["step"], counts["node_result"], counts["source"]) == (1, 2, 200, 8)
    assert store.get_report(RUN_ID).status == "error"
