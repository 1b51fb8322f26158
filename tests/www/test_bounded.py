"""The web view stays bounded on huge runs: whole-run endpoints are paged with a cursor, a few heavy
requests are served at once (the rest wait, then get 503 + Retry-After), and a real ``databand-dbt ui``
keeps its memory flat under parallel requests for a big run."""

from __future__ import annotations

import msgspec
from big_run import BIG_RUN_ID, big_report
from ui_load import UiServer
from web_reports import cli_source

from airflow_provider_databand_dbt.model.report import StepReport
from airflow_provider_databand_dbt.tracking.read.report import MAX_NODES_PER_PAGE


def two_step_run(nodes: int):
    """A run of ``nodes`` node results split over two steps (a seed step, then the build)."""
    run = big_report(nodes)
    build = run.steps[0]
    seed = StepReport(
        index=0,
        name="dbt seed",
        command="dbt seed",
        status="success",
        started_at=build.started_at,
        finished_at=build.finished_at,
        duration_seconds=1.0,
        nodes=build.nodes[: nodes // 3],
    )
    build.nodes = build.nodes[nodes // 3 :]
    run.steps = [seed, build]
    return run


def fetch_all(client, path: str) -> list[dict]:
    """Every page of ``path``, following ``Link: rel="next"``."""
    pages = []
    while path:
        response = client.get(path)
        assert response.status_code == 200, response.text
        pages.append(response)
        path = response.links.get("next", {}).get("url")
    return pages


def test_small_run_report_is_unchanged(client, filled, web_db):
    from airflow_provider_databand_dbt.tracking.store import TrackingStore

    body = client.get(f"/api/runs/{filled.latest_failed_run}").json()
    with TrackingStore(web_db[0]) as store:
        expected = msgspec.json.decode(store.get_report(filled.latest_failed_run).to_json())
    assert body["next"] is None and body["nodes_total"] == sum(len(s["nodes"]) for s in expected["steps"])
    beside_the_report = ("sources", "triggered_by", "retry_chain", "page_url", "next", "nodes_total")
    assert {k: v for k, v in body.items() if k not in beside_the_report} == expected


def test_run_report_pages_add_up_to_the_whole_run(store, tracking_url, app_for):
    run = two_step_run(2_500)
    store.save_report(run, cli_source())
    client = app_for(tracking_url)
    whole = msgspec.json.decode(store.get_report(BIG_RUN_ID).to_json())

    pages = fetch_all(client, f"/api/runs/{BIG_RUN_ID}?limit=1000")
    bodies = [page.json() for page in pages]
    assert [sum(len(s["nodes"]) for s in body["steps"]) for body in bodies] == [1000, 1000, 500]
    assert bodies[0]["next"] == pages[0].links["next"]["url"] and bodies[-1]["next"] is None
    for i, step in enumerate(whole["steps"]):
        assert [n for body in bodies for n in body["steps"][i]["nodes"]] == step["nodes"]
    for body in bodies:
        assert body["summary"] == whole["summary"] and body["nodes_total"] == 2_500
        assert [s["index"] for s in body["steps"]] == [0, 1]

    capped = client.get(f"/api/runs/{BIG_RUN_ID}", params={"limit": 10**9}).json()
    assert sum(len(s["nodes"]) for s in capped["steps"]) == min(2_500, MAX_NODES_PER_PAGE)
    assert client.get(f"/api/runs/{BIG_RUN_ID}", params={"cursor": "-5"}).status_code == 400
    assert client.get(f"/api/runs/{BIG_RUN_ID}", params={"cursor": "x"}).status_code == 400


def test_timeline_is_paged(store, tracking_url, app_for):
    store.save_report(two_step_run(2_500), cli_source())
    client = app_for(tracking_url)
    pages = fetch_all(client, f"/api/runs/{BIG_RUN_ID}/timeline?limit=1000")
    assert len(pages) == 3 and {page.headers["x-total-count"] for page in pages} == {"2500"}
    ids = [n["unique_id"] for page in pages for step in page.json() for n in step["nodes"]]
    assert len(ids) == len(set(ids)) == 2_500


def test_heavy_requests_beyond_the_slots_get_503_with_retry_after(store, tracking_url, app_for):
    store.save_report(big_report(50), cli_source())
    client = app_for(tracking_url, heavy_requests=1)
    slots = client.app.state.heavy_requests
    slots.wait_seconds = 0.2
    slots._semaphore.acquire()  # a heavy request in flight
    try:
        for path in (
            f"/api/runs/{BIG_RUN_ID}",
            f"/runs/{BIG_RUN_ID}",
            f"/api/runs/{BIG_RUN_ID}/timeline",
            f"/api/runs/{BIG_RUN_ID}/lineage",
        ):
            response = client.get(path)
            assert response.status_code == 503, path
            assert int(response.headers["retry-after"]) > 0
        # Light pages do not queue behind heavy ones.
        assert client.get("/api/runs").status_code == 200
        assert client.get(f"/api/runs/{BIG_RUN_ID}/nodes").status_code == 200
    finally:
        slots.release()
    assert client.get(f"/api/runs/{BIG_RUN_ID}").status_code == 200


def test_lineage_lists_are_bounded(store, tracking_url, app_for):
    from airflow_provider_databand_dbt.tracking.read.lineage import MAX_LINEAGE_LIST

    store.save_report(big_report(3_000), cli_source())  # a chain: every failure has ~100s skipped below it
    lineage = app_for(tracking_url).get(f"/api/runs/{BIG_RUN_ID}/lineage").json()
    first = lineage[0]
    assert len(first["skipped_downstream"]) == MAX_LINEAGE_LIST
    assert first["skipped_downstream_total"] > MAX_LINEAGE_LIST


def test_ui_memory_stays_flat_under_parallel_big_run_requests(tmp_path):
    """8 parallel requests for a 30,000-node run used to build 8 full reports at once (~+280 MB here)."""
    from airflow_provider_databand_dbt.tracking.store import TrackingStore

    url = f"sqlite:///{tmp_path / 'big.db'}"
    with TrackingStore(url) as store:
        store.save_report(big_report(30_000), cli_source())
    with UiServer(url) as server:
        load = server.load(f"/api/runs/{BIG_RUN_ID}", 8)
    assert load.statuses == [200] * 8
    assert load.peak_mb - load.idle_mb < 100, load


def test_cached_lineage_follows_a_retracked_run(store, tracking_url, app_for):
    """Lineage and Gantt are kept per run version: tracking the run again shows the new outcome."""
    failing = big_report(40)
    store.save_report(failing, cli_source())
    client = app_for(tracking_url)
    assert client.get(f"/api/runs/{BIG_RUN_ID}/lineage").json()
    assert "What failed" in client.get(f"/runs/{BIG_RUN_ID}").text

    fixed = big_report(40)
    for step in fixed.steps:
        for node in step.nodes:
            node.status = "success"
    fixed.status = "success"
    store.save_report(fixed, cli_source())
    assert client.get(f"/api/runs/{BIG_RUN_ID}/lineage").json() == []
    assert "What failed" not in client.get(f"/runs/{BIG_RUN_ID}").text


def test_one_computation_for_concurrent_viewers_of_a_run():
    import threading
    import time
    from concurrent.futures import ThreadPoolExecutor

    from airflow_provider_databand_dbt.www.run_cache import RunCache

    cache, calls, lock = RunCache(), [], threading.Lock()

    def slow() -> str:
        with lock:
            calls.append(1)
        time.sleep(0.3)
        return "lineage"

    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(lambda _: cache.get((1, "t", "lineage"), slow), range(6)))
    assert results == ["lineage"] * 6 and len(calls) == 1


def test_next_links_stay_under_the_mount_prefix(store, tracking_url):
    """Mounted under a prefix (as in Airflow), ``next`` and ``Link`` keep the prefix and the filters."""
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from airflow_provider_databand_dbt.www.app import create_app

    store.save_report(big_report(30), cli_source())
    parent, child = FastAPI(), create_app(tracking_url)
    parent.mount("/tracking", child)
    try:
        client = TestClient(parent)
        first = client.get(f"/tracking/api/runs/{BIG_RUN_ID}", params={"limit": 10, "account": 1})
        assert first.json()["next"].startswith(f"/tracking/api/runs/{BIG_RUN_ID}?")
        assert "account=1" in first.json()["next"] and first.links["next"]["url"] == first.json()["next"]
        pages = fetch_all(client, first.json()["next"])
        assert len(pages) == 2 and pages[-1].json()["next"] is None
    finally:
        child.state.store.close()
