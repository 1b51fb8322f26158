"""Cheaper polling, counted in the emulator's request log: what a syncer asks dbt Cloud, and how often.

- New runs are listed with ``id__gt=<cursor>`` and come with their steps, job and trigger
  (``include_related``): a finished run costs its artifacts only, no GET of its own.
- Runs still in progress are re-checked with one ``pk__in`` list call, not one GET each.
- Where a host does not do what dbt Cloud's spec says (no steps on the list, ``pk__in`` or
  ``id__gt`` ignored), the syncer falls back to the old requests and still tracks every run exactly.
"""

from __future__ import annotations

import urllib.parse

import pytest
from loopback_http import LoopbackServer, fetch, send
from monitor_helpers import run_monitor, small_artifacts, write_config

from airflow_provider_databand_dbt.collector.collect import collect_run
from airflow_provider_databand_dbt.dbt_cloud.client import DbtCloudClient
from airflow_provider_databand_dbt.testing.emulator import DEMO_TOKEN
from airflow_provider_databand_dbt.tracking.store import TrackingStore

ACCOUNT_ID = 7  # an account of its own: only the runs a test adds
JOB_ID = 700
ONE_STEP = ["dbt run --exclude customer_ltv_forecast+"]  # one dbt step of healthy_run: manifest + run_results


@pytest.fixture()
def account(emulator):
    emulator.add_account(ACCOUNT_ID, DEMO_TOKEN, "Polling")
    emulator.add_job(ACCOUNT_ID, JOB_ID, "Polled job")
    return emulator


def _config(tmp_path, url: str, tracking_url: str, **syncer):
    syncer = {"account_id": ACCOUNT_ID, "max_requests_per_minute": 1_000_000, **syncer}
    return write_config(tmp_path / "monitor.cfg", url, tracking_url, syncers={"main": syncer})


def _iterate(config, iterations: int = 1) -> str:
    """Run the monitor for ``iterations`` polls; returns its log."""
    proc = run_monitor(config, "--number-of-iterations", str(iterations))
    assert proc.returncode == 0, proc.stderr
    return proc.stderr


def _add(emulator, tmp_path, count: int, status: str = "success") -> list[int]:
    """``count`` one-step runs; ``running`` ones stay running until the test changes them."""
    small = small_artifacts(tmp_path / "small")
    run_ids = emulator.add_runs(
        ACCOUNT_ID, JOB_ID, count, status=status, artifacts_dir=str(small), steps_override=ONE_STEP
    )
    if status == "running":
        for run_id in run_ids:
            emulator.set_run_status(run_id, "running")
    return run_ids


def _run_gets(emulator, run_ids) -> list[str]:
    paths = {f"/api/v2/accounts/{ACCOUNT_ID}/runs/{run_id}/" for run_id in run_ids}
    return [r.path for r in emulator.requests if r.path in paths]


def _lists(emulator) -> list[dict[str, str]]:
    return [r.query for r in emulator.requests if r.path == f"/api/v2/accounts/{ACCOUNT_ID}/runs/"]


def _artifacts(emulator) -> int:
    return sum(1 for r in emulator.requests if "/artifacts/" in r.path)


def _lookups(emulator) -> list[str]:
    """Requests for names (project, environment): the v3 API."""
    return [r.path for r in emulator.requests if r.path.startswith("/api/v3/")]


def _reports(tracking_url: str, run_ids) -> dict:
    with TrackingStore(tracking_url) as store:
        return {run_id: store.get_report(run_id, account_id=ACCOUNT_ID) for run_id in run_ids}


def _same_as_collected_by_get(emulator, report) -> bool:
    """Whether ``report`` is what a collection that GETs the run reports (the collection time aside)."""
    with DbtCloudClient(DEMO_TOKEN, emulator.url) as client:
        expected = collect_run(client, ACCOUNT_ID, report.run_id).as_dict()
    return {**report.as_dict(), "collected_at": None} == {**expected, "collected_at": None}


def test_new_runs_are_listed_after_the_cursor_and_collected_without_a_get(account, tmp_path, tracking_url):
    config = _config(tmp_path, account.url, tracking_url)
    [before] = _add(account, tmp_path, 1)
    _iterate(config)  # first start: cursor at the newest run
    new = _add(account, tmp_path, 3)
    account.reset_request_log()
    _iterate(config)
    [listed] = _lists(account)
    assert listed["id__gt"] == str(before)
    assert "run_steps" in listed["include_related"]
    assert _run_gets(account, new) == []
    assert len(_lookups(account)) == 2  # the project's and the environment's names, once for all runs
    assert len(account.requests) == 1 + _artifacts(account) + 2
    reports = _reports(tracking_url, new)
    assert all(_same_as_collected_by_get(account, reports[run_id]) for run_id in new)
    assert all(len(reports[run_id].steps[-1].nodes) == 3 for run_id in new)  # the small artifacts' results


def test_a_backfill_costs_its_artifacts_plus_list_pages(account, tmp_path, sqlite_url):
    runs = _add(account, tmp_path, 150)
    config = _config(tmp_path, account.url, sqlite_url, backfill="1d")
    account.reset_request_log()
    _iterate(config)
    artifacts, lists = _artifacts(account), len(_lists(account))
    assert artifacts == 2 * len(runs)  # manifest + run_results of the one dbt step
    assert lists <= 3  # two pages of 100
    assert len(_lookups(account)) == 2  # project and environment names, once
    assert len(account.requests) == artifacts + lists + 2
    assert len(account.requests) / len(runs) <= 2.05
    with TrackingStore(sqlite_url) as store:
        assert {row.run_id for row in store.list_runs(limit=1000)} == set(runs)


def test_runs_in_progress_are_rechecked_with_one_list_call(account, tmp_path, tracking_url):
    config = _config(tmp_path, account.url, tracking_url, runs_page_size=5)
    _add(account, tmp_path, 1)
    _iterate(config)
    running = _add(account, tmp_path, 3, status="running")
    finished = _add(account, tmp_path, 12)  # the running ones are now older than two pages
    _iterate(config)
    with TrackingStore(tracking_url) as store:
        assert sorted(store.get_cursor("main").active_run_ids) == running

    account.reset_request_log()
    _iterate(config, 3)  # nothing new; a restarted monitor re-collects its active runs once, from the list
    assert [sorted(q) for q in _lists(account)] == 3 * [
        sorted(["limit", "offset", "order_by", "id__gt", "include_related"]),
        sorted(["limit", "offset", "order_by", "pk__in", "include_related"]),
    ]
    assert _lists(account)[1]["pk__in"] == "[{}]".format(",".join(map(str, running)))
    assert len(account.requests) == 3 * 2 + len(_lookups(account)) + _artifacts(account)
    assert _run_gets(account, running) == []

    for run_id in running:
        account.set_run_status(run_id, "success")
    account.reset_request_log()
    _iterate(config)
    assert _run_gets(account, running) == []
    assert len(account.requests) == 2 + _artifacts(account) + len(_lookups(account))
    reports = _reports(tracking_url, running + finished)
    assert {report.status for report in reports.values()} == {"success"}
    with TrackingStore(tracking_url) as store:
        assert store.get_cursor("main").active_run_ids == []

    account.reset_request_log()
    _iterate(config, 3)  # idle: one request per iteration
    assert len(account.requests) == 3


def test_runs_listed_without_their_steps_are_fetched_one_by_one(account, tmp_path, tracking_url):
    """dbt Cloud's spec documents only trigger, job and debug_logs for the list: the GET stays the fallback."""
    account.set_list_related({"job", "trigger"})
    config = _config(tmp_path, account.url, tracking_url)
    _add(account, tmp_path, 1)
    _iterate(config)
    new = _add(account, tmp_path, 3)
    account.reset_request_log()
    _iterate(config)
    assert sorted(_run_gets(account, new)) == sorted(f"/api/v2/accounts/{ACCOUNT_ID}/runs/{r}/" for r in new)
    reports = _reports(tracking_url, new)
    assert all(_same_as_collected_by_get(account, reports[run_id]) for run_id in new)


class DroppingProxy(LoopbackServer):
    """Forwards GETs to the emulator without the query parameters named in ``dropped``: a host that ignores them."""

    def __init__(self, upstream: str, dropped: set[str]) -> None:
        self.upstream = upstream
        self.dropped = dropped
        super().__init__()

    def handle(self, handler) -> None:
        parts = urllib.parse.urlsplit(handler.path)
        query = [
            (k, v) for k, v in urllib.parse.parse_qsl(parts.query, keep_blank_values=True) if k not in self.dropped
        ]
        path = urllib.parse.urlunsplit(("", "", parts.path, urllib.parse.urlencode(query), ""))
        status, content_type, body = fetch(self.upstream, handler, path)
        send(handler, status, body, {"Content-Type": content_type or "application/json"})


@pytest.mark.parametrize("dropped", ["id__gt", "pk__in"])
def test_a_host_that_ignores_an_id_filter_still_gets_every_run_tracked(account, tmp_path, sqlite_url, dropped):
    with DroppingProxy(account.url, {dropped}) as proxy:
        config = _config(tmp_path, proxy.url, sqlite_url, runs_page_size=5)
        _add(account, tmp_path, 1)
        _iterate(config)
        running = _add(account, tmp_path, 2, status="running")
        finished = _add(account, tmp_path, 12)
        _iterate(config)
        for run_id in running:
            account.set_run_status(run_id, "success")
        log = _iterate(config)
        assert ("ignored the pk__in filter" in log) == (dropped == "pk__in")
        later = _add(account, tmp_path, 2)
        _iterate(config)
    reports = _reports(sqlite_url, running + finished + later)
    assert {run_id: report.status for run_id, report in reports.items()} == dict.fromkeys(reports, "success")
    with TrackingStore(sqlite_url) as store:
        cursor = store.get_cursor("main")
        assert (cursor.last_run_id, cursor.active_run_ids) == (later[-1], [])
        assert store.list_failed_runs("main") == []
