"""The Incidents page, ``/api/incidents``, and the incidents on a pipeline's and a node's page.

Incidents are made the real way: runs stored through the tracking service and the AlertSink.
"""

from __future__ import annotations

import pytest

from airflow_provider_databand_dbt.alerts.sink import AlertSink
from airflow_provider_databand_dbt.sinks.service import TrackingService
from airflow_provider_databand_dbt.testing.synthetic_runs import NodeSpec, build_report
from airflow_provider_databand_dbt.tracking.store import TrackingStore


def _nodes(b: str = "success", source: str = "pass"):
    return [
        NodeSpec(name="raw", resource_type="source", status=source),
        NodeSpec(name="a"),
        NodeSpec(name="b", status=b, depends_on=("model.shop.a",)),
    ]


@pytest.fixture()
def web(tracking_url, app_for):
    """Job 1: model b failed in runs 2-3 and recovered in 4 (resolved); job 2: source stale since run 12 (open)."""
    with TrackingStore(tracking_url) as store:
        service = TrackingService(store, [AlertSink(lambda conn, notes: None)])
        service.record(build_report(1, nodes=_nodes()))
        service.record(build_report(2, status="error", nodes=_nodes("error")))
        service.record(build_report(3, status="error", nodes=_nodes("error")))
        service.record(build_report(4, nodes=_nodes()))
        service.record(build_report(11, job_id=2, nodes=_nodes()))
        service.record(build_report(12, job_id=2, nodes=_nodes(source="warn")))
    return app_for(tracking_url)


def _html(client, path: str, expect: int = 200, **params) -> str:
    response = client.get(path, params=params)
    assert response.status_code == expect, (path, response.text[:500])
    assert "Traceback" not in response.text
    return response.text


def test_incidents_page_lists_open_first_then_resolved(web):
    html = _html(web, "/incidents")
    assert 'href="/incidents" class="active"' in html
    assert "1 open" in html
    stale = html.index("source raw freshness warn in job 2")
    failed = html.index("model b failed in job 1 (run 3)")
    assert stale < failed  # open first
    assert 'href="/nodes/model.shop.b?job_id=1"' in html
    assert 'href="/runs/2"' in html and 'href="/runs/4"' in html  # first run, and the run that resolved it
    assert 'href="/pipelines/2"' in html


def test_incidents_page_filters_by_status_and_rejects_nonsense(web):
    html = _html(web, "/incidents", status="resolved")
    assert "source raw freshness" not in html and "model b failed" in html
    assert "status must be one of open, resolved" in _html(web, "/incidents", expect=400, status="closed")


def test_api_incidents(web):
    data = web.get("/api/incidents").json()
    assert (data["total"], data["open_count"]) == (3, 1)
    first = data["items"][0]
    assert (first["rule"], first["status"], first["severity"], first["job_id"]) == (
        "source_freshness",
        "open",
        "warning",
        2,
    )
    failed = web.get("/api/incidents", params={"node": "model.shop.b"}).json()["items"]
    assert [
        (i["rule"], i["first_run_id"], i["last_run_id"], i["resolved_run_id"], i["occurrences"]) for i in failed
    ] == [("new_failure", 2, 3, 4, 2)]
    job1 = web.get("/api/incidents", params={"job_id": "1", "status": "resolved"}).json()
    assert {i["rule"] for i in job1["items"]} == {"new_failure", "run_failed"}
    assert web.get("/api/incidents", params={"status": "nope"}).status_code == 400


def test_pipeline_and_node_pages_show_their_incidents(web):
    pipeline = _html(web, "/pipelines/1")
    box = pipeline[pipeline.index('id="incidents"') :]
    assert "0 open" in box and "model b failed in job 1" in box and "Run 3 of job 1 failed" in box
    assert 'href="/incidents?job_id=1"' in box
    node = _html(web, "/nodes/model.shop.b")
    box = node[node.index('id="incidents"') :]
    assert "model b failed in job 1" in box and "Run 3 of job 1" not in box
    assert "source raw" not in _html(web, "/nodes/model.shop.a")
