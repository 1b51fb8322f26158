"""One poison run never blocks a syncer: hostile runs in the list are skipped, recorded, retried, counted.

Property (Hypothesis): whatever hostile runs sit among the real ones on the runs page (malformed entries,
runs whose details never decode, carry values the store refuses, or are gone), the monitor tracks every
real run, its cursor passes them all, and its last iteration succeeds (``/health`` green, exit code 0).
"""

from __future__ import annotations

import itertools
from urllib.parse import urlsplit

from hostile_proxy import HostileProxy, Mutant
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from monitor_helpers import run_monitor, write_config

from airflow_provider_databand_dbt.monitor.config import MonitorConfig, SyncerConfig
from airflow_provider_databand_dbt.monitor.daemon import MonitorDaemon
from airflow_provider_databand_dbt.monitor.errors import is_poison
from airflow_provider_databand_dbt.testing.emulator import DEMO_ACCOUNT_ID, DEMO_TOKEN, HOURLY_JOB_ID
from airflow_provider_databand_dbt.tracking.errors import TrackingStoreUnavailable
from airflow_provider_databand_dbt.tracking.rows import MonitorCursor
from airflow_provider_databand_dbt.tracking.store import TrackingStore

REAL_RUNS = 4
SPACING = 10  # real runs are base+10, base+20...; hostile ones sit in between

surrogate_text = st.sampled_from(["\ud800", "a\udfffb", "\ud83d"])
fractions = st.floats(min_value=-1e9, max_value=1e9).filter(lambda f: f != int(f))
malformed_entries = st.one_of(
    st.none(),
    st.integers(),
    st.text(max_size=5),
    surrogate_text,
    st.lists(st.integers(), max_size=2),
    st.fixed_dictionaries(
        {"id": st.one_of(st.none(), st.text(max_size=5), surrogate_text, fractions), "status": st.integers(0, 30)}
    ),
    st.fixed_dictionaries({"id": st.integers(1, 10**6), "status": st.one_of(st.text(max_size=3), st.none())}),
    st.fixed_dictionaries({"id": st.integers(1, 10**6), "status": st.just(10), "created_at": st.text(max_size=4)}),
)
mutant_kinds = st.one_of(
    st.builds(
        dict,
        mode=st.just("fields"),
        fields=st.sampled_from(
            [
                {"git_branch": "\ud800"},  # msgspec refuses the detail answer
                {"status": "done"},
                {"created_at": "yesterday"},
                {"run_steps": "none"},
                {"git_sha": "f" * 5000},  # PostgreSQL refuses: too long for the column
                {"status_message": "nul \x00 byte"},  # PostgreSQL refuses NUL in text
            ]
        ),
    ),
    st.builds(
        dict,
        mode=st.just("body"),
        body=st.sampled_from([b"<html>login</html>", b"", b'{"data": null}', b'{"data": 7}', b"\xff\xfe"]),
    ),
    st.builds(dict, mode=st.just("status"), status=st.just(404)),
)


def test_store_unavailable_is_not_poison():
    assert not is_poison(TrackingStoreUnavailable("could not save run 1: tracking store x cannot be used"))


def test_hostile_runs_never_stop_the_tracking_of_later_runs(emulator, tracking_url, small_dir):
    base = max(emulator.state.runs) + 1000
    real = [
        emulator.add_run(
            DEMO_ACCOUNT_ID,
            HOURLY_JOB_ID,
            run_id=base + SPACING * (i + 1),
            status="success",
            artifacts_dir=str(small_dir),
        )
        for i in range(REAL_RUNS)
    ]
    slots = [run_id for run_id in range(base + 1, real[-1]) if run_id not in real]
    names = (f"s{i}" for i in itertools.count())
    with HostileProxy(emulator.url) as proxy, TrackingStore(tracking_url) as store:

        @settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
        # Always tried: values PostgreSQL refuses (SQLite stores them), next to a malformed entry.
        @example(
            malformed=[{"id": "\ud800", "status": 10}],
            mutants=[
                (slots[0], {"mode": "fields", "fields": {"status_message": "nul \x00 byte"}}),
                (slots[-1], {"mode": "fields", "fields": {"git_sha": "f" * 5000}}),
            ],
        )
        @given(
            malformed=st.lists(malformed_entries, max_size=4),
            mutants=st.lists(
                st.tuples(st.sampled_from(slots), mutant_kinds), max_size=4, unique_by=lambda pair: pair[0]
            ),
        )
        def check(malformed, mutants):
            syncer = next(names)
            proxy.malformed = malformed
            proxy.mutants = {run_id: Mutant(id=run_id, template=real[0], **kind) for run_id, kind in mutants}
            store.save_cursor(
                MonitorCursor(
                    syncer=syncer,
                    host=urlsplit(proxy.url).netloc,
                    account_id=DEMO_ACCOUNT_ID,
                    last_run_id=base,
                    active_run_ids=[],
                    backfill_done=True,
                )
            )
            config = MonitorConfig(
                syncers=(
                    SyncerConfig(
                        name=syncer,
                        account_id=DEMO_ACCOUNT_ID,
                        api_url=proxy.url,
                        token=DEMO_TOKEN,
                        collect_concurrency=2,
                    ),
                ),
                prometheus_port=0,
                interval=0.05,
                number_of_iterations=3,
                lease_seconds=0,
                max_backoff=0.1,
                tracking_url=tracking_url,
            )
            daemon = MonitorDaemon(config, store=store)
            assert daemon.run() == 0  # the last iteration succeeded
            assert daemon.health.snapshot()[0]
            for run_id in real:
                assert syncer in [source.name for source in store.list_sources(run_id)], f"run {run_id} not tracked"
            assert store.get_cursor(syncer).last_run_id == real[-1]
            failed = {row.run_id: row for row in store.list_failed_runs(syncer)}
            assert set(failed) <= set(proxy.mutants)  # only hostile runs, never a real one
            assert all(row.reason and row.attempts >= 1 for row in failed.values())
            counted = sum(
                sample.value
                for metric in daemon.metrics.registry.collect()
                if metric.name == "databand_dbt_monitor_runs_failed"
                for sample in metric.samples
                if sample.name.endswith("_total") and sample.labels["syncer"] == syncer
            )
            assert counted >= len(failed)

        check()


def test_a_run_that_fails_once_is_skipped_then_tracked_on_retry(emulator, tmp_path, sqlite_url, small_dir):
    from airflow_provider_databand_dbt.testing.emulator import Fault

    config = write_config(tmp_path / "monitor.cfg", emulator.url, sqlite_url, interval=0.1)
    assert run_monitor(config, "--number-of-iterations", "1").returncode == 0
    first, flaky, last = emulator.add_runs(
        DEMO_ACCOUNT_ID, HOURLY_JOB_ID, 3, status="success", artifacts_dir=str(small_dir)
    )
    emulator.set_list_related({"job", "trigger"})  # runs listed without steps: each one is fetched by a GET
    emulator.inject_fault(Fault(path_pattern=rf"/runs/{flaky}/$", kind="corrupt", times=1))
    proc = run_monitor(config, "--number-of-iterations", "15")
    assert proc.returncode == 0, proc.stderr
    skipped = proc.stderr.index(f"skipping run {flaky} for now (invalid_response")
    assert proc.stderr.index(f"tracked run {last} ") < proc.stderr.index(f"run {flaky} tracked after earlier failures")
    assert skipped < proc.stderr.index(f"tracked run {last} ")  # the later run did not wait for the flaky one
    with TrackingStore(sqlite_url) as store:
        assert {first, flaky, last} <= {row.run_id for row in store.list_runs(limit=100)}
        assert store.list_failed_runs() == []
        assert store.get_cursor("main").last_run_id == last


def test_a_malformed_run_on_a_page_is_skipped_with_a_log_line_and_the_rest_is_kept(emulator, caplog):
    from airflow_provider_databand_dbt.dbt_cloud.client import DbtCloudClient
    from airflow_provider_databand_dbt.monitor.run_pages import list_runs_page

    with HostileProxy(emulator.url) as proxy, DbtCloudClient(DEMO_TOKEN, proxy.url) as client:
        proxy.malformed = [{"id": "\ud800", "status": 10}, "not a run", {"id": 5, "status": None}]
        page = list_runs_page(client, DEMO_ACCOUNT_ID, limit=100, offset=0)
    assert sorted(run.id for run in page.runs) == sorted(emulator.state.runs)
    assert page.size == len(emulator.state.runs) + 3  # paging counts what dbt Cloud sent
    assert caplog.text.count("skipping malformed run") == 3
