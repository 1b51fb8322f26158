"""Edge cases on their own stores: empty store, hostile text, ids shared by two hosts, broken store URL."""

from __future__ import annotations

import re

import msgspec
from web_reports import HOSTILE_MESSAGE, HOSTILE_NAME, T0, cli_source, node, report

from airflow_provider_databand_dbt.model.report import ArtifactMissing


def test_empty_store_says_how_to_fill_it(app_for, store, tracking_url):
    client = app_for(tracking_url)
    html = client.get("/").text
    assert "No runs tracked yet" in html
    assert "databand-dbt collect" in html
    assert client.get("/runs").status_code == 200
    assert "No runs match these filters." in client.get("/runs").text
    body = client.get("/api/pipelines").json()
    assert body == {"items": [], "total": 0, "page": 1, "page_size": 50, "runs_without_pipeline": 0}


def test_names_and_messages_are_shown_as_text(app_for, store, tracking_url):
    hostile_id = "model.proj.evil_<script>"
    store.save_report(
        report(
            9001,
            status="error",
            job_name=HOSTILE_NAME,
            status_message=HOSTILE_MESSAGE,
            nodes=(
                node(hostile_id, "error", name=HOSTILE_NAME, message=HOSTILE_MESSAGE),
                node("model.proj.child", "skipped", depends_on=(hostile_id,), offset=2),
            ),
            url="javascript:alert('url')",
        ),
        cli_source(),
    )
    client = app_for(tracking_url)
    pages = [
        "/",
        "/pipelines/500",
        "/runs",
        "/runs/9001",
        "/runs/9001?q=<script>",
        f"/nodes/{hostile_id}",
        "/nodes?q=evil",
    ]
    for path in pages:
        html = client.get(path).text
        assert "<script>alert" not in html, path
        assert "<img src=x" not in html, path
        assert "<b>bold</b>" not in html, path
    run_html = client.get("/runs/9001").text
    assert "&lt;script&gt;alert(&#34;name&#34;)&lt;/script&gt;" in run_html
    assert "&lt;img src=x onerror=alert(1)&gt;" in run_html
    assert "javascript:" not in run_html  # a non-http dbt Cloud URL is never made a link
    # The API returns the same text untouched: escaping is the page's job.
    api = client.get("/api/runs/9001/nodes").json()
    assert api["items"][0]["name"] == HOSTILE_NAME


def test_run_and_pipeline_ids_shared_by_two_hosts(app_for, store, tracking_url):
    store.save_report(report(777, host="cloud.getdbt.com", job_id=55), cli_source())
    store.save_report(report(777, host="emea.dbt.com", job_id=55, status="error"), cli_source())
    client = app_for(tracking_url)
    choose = client.get("/runs/777")
    assert choose.status_code == 300
    assert "Several runs share this id" in choose.text
    assert "/runs/777?account=1&amp;host=emea.dbt.com" in choose.text
    one = client.get("/runs/777", params={"host": "emea.dbt.com", "account": 1})
    assert one.status_code == 200 and "emea.dbt.com" in one.text
    api = client.get("/api/runs/777")
    assert api.status_code == 409
    assert {m["host"] for m in api.json()["matches"]} == {"cloud.getdbt.com", "emea.dbt.com"}
    assert client.get("/api/runs/777", params={"host": "emea.dbt.com"}).json()["status"] == "error"
    assert client.get("/pipelines/55").status_code == 300
    # With two hosts in the store every link says which one it means.
    assert "/pipelines/55?account=1&amp;host=cloud.getdbt.com" in client.get("/").text


def test_run_without_steps_nor_nodes(app_for, store, tracking_url):
    bare = report(4242, status="cancelled", missing=(ArtifactMissing(artifact="run_results.json", reason="404"),))
    bare.steps[0].nodes = []
    store.save_report(bare, cli_source())
    html = app_for(tracking_url).get("/runs/4242").text
    assert "No node results for this run." in html
    assert "run_results.json" in html


def test_queued_run_without_steps(app_for, store, tracking_url):
    queued = report(4343, status="queued", created_at=T0)
    queued.steps = []
    store.save_report(queued, cli_source())
    html = app_for(tracking_url).get("/runs/4343").text
    assert "This run is still in progress" in html
    assert "dbt Cloud reported no steps for this run yet." in html


def test_unreachable_store_is_a_clear_503(app_for, tmp_path, caplog):
    client = app_for(f"sqlite:///{tmp_path / 'missing-dir' / 'tracking.db'}")
    response = client.get("/")
    assert response.status_code == 503
    assert "Tracking store unavailable" in response.text
    # Viewers are anonymous: why it failed goes to the server log, not the page.
    assert "does not exist" not in response.text and "does not exist" in caplog.text
    assert client.get("/api/pipelines").status_code == 503


def test_database_password_is_never_shown(app_for, tmp_path):
    client = app_for("postgresql+psycopg://user:s3cr3t-pw@127.0.0.1:1/nodb?connect_timeout=1")
    response = client.get("/")
    assert response.status_code == 503
    assert "s3cr3t-pw" not in response.text


def test_links_stay_under_the_mount_prefix(store, tracking_url):
    """Mounted under a prefix (as in Airflow), every link, pager and filter keeps the prefix."""
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from airflow_provider_databand_dbt.www.app import create_app

    for i in range(3):
        store.save_report(
            report(8000 + i, status="error" if i else "success", created_at=T0.replace(hour=i)), cli_source()
        )
    parent = FastAPI()
    child = create_app(tracking_url, page_size=2)
    parent.mount("/tracking", child)
    try:
        client = TestClient(parent)
        html = client.get("/tracking/pipelines/500", params={"status": "error"}).text
        assert 'href="/tracking/static/style.css' in html
        assert 'href="/tracking/runs/8002"' in html
        assert 'href="/tracking/pipelines/500?page=1' not in html  # no pager needed for 2 error runs
        assert 'href="/tracking/pipelines/500"' in html  # "Clear" keeps the prefix
        paged = client.get("/tracking/runs").text
        assert 'href="/tracking/runs?page=2"' in paged
        missing = client.get("/tracking/runs/1")
        assert missing.status_code == 404 and 'href="/tracking/"' in missing.text
        assert client.get("/tracking/api/runs/1").json()["detail"].startswith("Run 1 is not")
    finally:
        child.state.store.close()


def test_rows_an_adapter_did_not_count_show_as_unknown(app_for, store, tracking_url):
    """PostgreSQL and Redshift report -1 rows for DDL; the pages say "–", the JSON API keeps dbt's value."""
    store.save_report(
        report(
            9101,
            nodes=(
                msgspec.structs.replace(node("model.proj.a_view", "success"), rows_affected=-1),
                msgspec.structs.replace(node("model.proj.a_table", "success", offset=2), rows_affected=1234),
            ),
        ),
        cli_source(),
    )
    client = app_for(tracking_url)
    for page in ("/runs/9101", "/nodes/model.proj.a_view"):
        cells = re.findall(r'<td class="num">([^<]*)</td>', client.get(page).text)
        assert "-1" not in cells and "–" in cells, page
    assert "1,234" in client.get("/runs/9101").text
    rows = {n["unique_id"]: n["rows_affected"] for n in client.get("/api/runs/9101/nodes").json()["items"]}
    assert rows == {"model.proj.a_view": -1, "model.proj.a_table": 1234}
