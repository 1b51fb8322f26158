"""Large JSON answers (a page of a run's report, of its timeline) are streamed: the bytes parse to the same
JSON as the whole-body answers did, arrive in bounded chunks, and the heavy-request slot and the read
transaction are held until the last chunk is sent."""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

import httpx
import msgspec
from big_run import BIG_RUN_ID
from test_bounded import two_step_run
from ui_load import UiServer
from web_reports import cli_source

from airflow_provider_databand_dbt.tracking.read.nodes import timed_nodes
from airflow_provider_databand_dbt.www.streaming import (
    CHUNK_BYTES,
    json_groups,
    json_with_arrays,
    placeholder,
)

PAGE = 1_000
NODES = 2_500


def _expected_report_pages(store) -> list[dict]:
    """The report pages as the whole-body answers built them: ``as_dict()`` of the run, nodes cut in stored order."""
    whole = store.get_report(BIG_RUN_ID).as_dict()
    stored = [(position, node) for position, step in enumerate(whole["steps"]) for node in step["nodes"]]
    pages = []
    for start in range(0, len(stored), PAGE):
        page = msgspec.json.decode(msgspec.json.encode(whole))
        for step in page["steps"]:
            step["nodes"] = []
        for position, node in stored[start : start + PAGE]:
            page["steps"][position]["nodes"].append(node)
        pages.append(page)
    return pages


def test_streamed_report_pages_are_the_same_json(store, tracking_url, app_for):
    store.save_report(two_step_run(NODES), cli_source())
    client = app_for(tracking_url)
    path, bodies = f"/api/runs/{BIG_RUN_ID}?limit={PAGE}", []
    while path:
        response = client.get(path)
        assert response.status_code == 200 and response.headers["content-type"] == "application/json"
        bodies.append(msgspec.json.decode(response.content))
        path = response.links.get("next", {}).get("url")
    expected = _expected_report_pages(store)
    assert len(bodies) == len(expected) == 3
    for number, (body, want) in enumerate(zip(bodies, expected)):
        assert list(body)[: len(want)] == list(want)  # same keys, same order
        assert {key: body[key] for key in want} == want
        assert body["nodes_total"] == NODES and body["sources"][0]["kind"] == "cli"
        assert f"/runs/{BIG_RUN_ID}?" in body["page_url"]
        assert (body["next"] is None) == (number == 2)


def test_streamed_timeline_pages_are_the_same_json(store, tracking_url, app_for):
    store.save_report(two_step_run(NODES), cli_source())
    client = app_for(tracking_url)
    run_pk = _run_pk(store)
    for cursor in range(0, NODES, PAGE):
        response = client.get(f"/api/runs/{BIG_RUN_ID}/timeline", params={"cursor": cursor, "limit": PAGE})
        assert response.status_code == 200 and response.headers["x-total-count"] == str(NODES)
        with store.engine.connect() as conn:
            steps = timed_nodes(conn, run_pk, offset=cursor, limit=PAGE)
        want = [{"step_index": index, "nodes": nodes} for index, (nodes, _) in sorted(steps.items())]
        assert msgspec.json.decode(response.content) == msgspec.json.decode(msgspec.json.encode(want))


def test_empty_arrays_and_values_that_look_like_placeholders():
    data = {"a": placeholder("x"), "text": "stream-", "b": [placeholder("y")]}
    body = b"".join(json_with_arrays(data, {"x": iter(()), "y": iter(range(3))}))
    assert msgspec.json.decode(body) == {"a": [], "text": "stream-", "b": [[0, 1, 2]]}
    assert b"".join(json_groups(iter(()), key="real", items_name="n")) == b"[]"


def _run_pk(store) -> int:
    import sqlalchemy as sa

    with store.engine.connect() as conn:
        return conn.execute(
            sa.text("SELECT id FROM dbt_tracking_run WHERE run_id = :r"), {"r": BIG_RUN_ID}
        ).scalar_one()


async def _drive(app, path: str) -> tuple[list[bytes], list[tuple[int, int]]]:
    """Serve one GET through the ASGI app; for every body chunk, note (free heavy slots, open connections)."""
    url = urlsplit(path)
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": url.path,
        "raw_path": url.path.encode(),
        "query_string": url.query.encode(),
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1")],
        "server": ("127.0.0.1", 80),
        "client": ("127.0.0.1", 5000),
    }
    requested, chunks, seen = False, [], []
    never = asyncio.Event()

    async def receive():
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await never.wait()

    async def send(message):
        if message["type"] == "http.response.start":
            assert message["status"] == 200, message
        elif message["type"] == "http.response.body" and message.get("body"):
            chunks.append(message["body"])
            seen.append((app.state.heavy_requests._semaphore._value, _connections_out(app)))

    await app(scope, receive, send)
    return chunks, seen


def _connections_out(app):
    """Connections checked out of the store's pool; None where the pool does not count (SQLAlchemy 1.4's NullPool)."""
    pool = app.state.store.store.engine.pool
    return pool.checkedout() if hasattr(pool, "checkedout") else None


def test_report_is_sent_in_bounded_chunks_holding_its_slot_and_snapshot(store, tracking_url, app_for):
    store.save_report(two_step_run(NODES), cli_source())
    app = app_for(tracking_url, heavy_requests=2).app
    for path in (f"/api/runs/{BIG_RUN_ID}", f"/api/runs/{BIG_RUN_ID}/timeline"):
        chunks, seen = asyncio.run(_drive(app, path))
        assert len(chunks) > 3, path  # the old answers were one body
        assert max(map(len, chunks)) < CHUNK_BYTES + 4096
        assert all(free == 1 and connections in (1, None) for free, connections in seen), seen  # to the last chunk
        assert app.state.heavy_requests._semaphore._value == 2
        assert _connections_out(app) in (0, None)
        msgspec.json.decode(b"".join(chunks))


def test_real_server_streams_the_report(tmp_path):
    from airflow_provider_databand_dbt.tracking.store import TrackingStore

    url = f"sqlite:///{tmp_path / 'big.db'}"
    with TrackingStore(url) as store:
        store.save_report(two_step_run(NODES), cli_source())
    with UiServer(url) as server, httpx.stream("GET", f"{server.base}/api/runs/{BIG_RUN_ID}", timeout=60) as response:
        assert response.status_code == 200
        assert response.headers.get("transfer-encoding") == "chunked" and "content-length" not in response.headers
        body = msgspec.json.decode(response.read())
    assert sum(len(step["nodes"]) for step in body["steps"]) == NODES


def test_server_memory_holds_no_whole_page(tmp_path):
    """8 parallel requests for a 10,000-node page: +60 MB peak when each body was built whole, under +20 MB streamed."""
    from big_run import big_report

    from airflow_provider_databand_dbt.tracking.store import TrackingStore

    url = f"sqlite:///{tmp_path / 'big.db'}"
    with TrackingStore(url) as store:
        store.save_report(big_report(12_000), cli_source())
    with UiServer(url) as server:
        load = server.load(f"/api/runs/{BIG_RUN_ID}?limit=10000", 8)
    assert load.statuses == [200] * 8 and min(load.sizes) > 4_000_000
    assert load.peak_mb - load.idle_mb < 30, load


def test_a_failure_midway_ends_the_body_with_one_log_line(caplog):
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from airflow_provider_databand_dbt.www.streaming import json_array, streamed_json

    def failing():
        yield from range(20_000)
        raise ConnectionError("store went away")

    app = FastAPI()
    app.get("/big")(lambda: streamed_json(json_array(failing())))
    with caplog.at_level("ERROR"):
        response = TestClient(app).get("/big")
    assert response.status_code == 200 and response.content.startswith(b"[0,1,2")
    try:
        msgspec.json.decode(response.content)
        raise AssertionError("an incomplete body must not parse")
    except msgspec.DecodeError:
        pass
    assert [r.getMessage() for r in caplog.records] == [
        (
            "Stopped sending a JSON answer midway (ConnectionError): the client gets an incomplete body. "
            "Check that the tracking store is reachable."
        )
    ]
