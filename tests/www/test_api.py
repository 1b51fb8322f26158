"""The JSON API over a store filled by the emulator + collector, through FastAPI's test client."""

from __future__ import annotations

from web_fill import ERROR_MODEL_ID, FAILING_TEST_ID, HEALTHY_MODEL_ID, SKIPPED_MODEL_ID

from airflow_provider_databand_dbt.testing.emulator import DEMO_TOKEN, HOURLY_JOB_ID, NIGHTLY_JOB_ID


def _pipelines(client) -> dict:
    response = client.get("/api/pipelines")
    assert response.status_code == 200
    return {p["job_id"]: p for p in response.json()["items"]}


def test_health_counts_runs(client, filled):
    body = client.get("/api/health").json()
    assert body["status"] == "ok"
    assert body["runs"] == len(filled.nightly_runs) + len(filled.hourly_runs) + 1


def test_pipelines_summarise_last_runs(client, filled):
    pipelines = _pipelines(client)
    assert set(pipelines) == {NIGHTLY_JOB_ID, HOURLY_JOB_ID}
    nightly = pipelines[NIGHTLY_JOB_ID]
    assert nightly["name"] == "Nightly build"
    assert nightly["project_name"] == "Jaffle shop" and nightly["environment_name"] == "Production"
    assert nightly["last_run_id"] == filled.latest_failed_run
    assert nightly["last_status"] == "error"
    assert nightly["run_count"] == len(filled.nightly_runs)
    # 4 healthy runs then 3 failing ones.
    assert abs(nightly["success_rate"] - 4 / 7) < 1e-9
    assert nightly["median_duration_seconds"] > 0
    assert nightly["trackers"] == ["airflow", "monitor"]
    assert [p["run_id"] for p in nightly["recent"]] == filled.nightly_runs
    hourly = pipelines[HOURLY_JOB_ID]
    assert hourly["last_status"] == "running"  # the in-progress run is the newest
    assert hourly["success_rate"] == 1.0  # in-progress runs do not count
    assert hourly["trackers"] == ["monitor"]


def test_pipeline_runs_newest_first_and_paged(client, filled):
    body = client.get(f"/api/pipelines/{NIGHTLY_JOB_ID}", params={"page_size": 3}).json()
    assert body["pipeline"]["job_id"] == NIGHTLY_JOB_ID
    runs = body["runs"]
    assert runs["total"] == len(filled.nightly_runs)
    assert [r["run_id"] for r in runs["items"]] == filled.nightly_runs[::-1][:3]
    page2 = client.get(f"/api/pipelines/{NIGHTLY_JOB_ID}", params={"page_size": 3, "page": 2}).json()["runs"]
    assert [r["run_id"] for r in page2["items"]] == filled.nightly_runs[::-1][3:6]
    assert [p["run_id"] for p in body["trend"]] == filled.nightly_runs


def test_pipeline_runs_filtered_by_status_and_date(client, filled):
    errors = client.get(f"/api/pipelines/{NIGHTLY_JOB_ID}", params={"status": "error"}).json()["runs"]
    assert errors["total"] == 3
    assert {r["status"] for r in errors["items"]} == {"error"}
    newest = client.get(f"/api/runs/{filled.latest_failed_run}").json()
    day = newest["created_at"][:10]
    same_day = client.get(f"/api/pipelines/{NIGHTLY_JOB_ID}", params={"since": day, "until": day}).json()
    assert [r["run_id"] for r in same_day["runs"]["items"]] == [filled.latest_failed_run]
    future = client.get(f"/api/pipelines/{NIGHTLY_JOB_ID}", params={"since": "2999-01-01"}).json()
    assert future["runs"]["total"] == 0


def test_runs_list_across_pipelines(client, filled):
    body = client.get("/api/runs", params={"page_size": 100}).json()
    assert body["total"] == len(filled.nightly_runs) + len(filled.hourly_runs) + 1
    created = [r["created_at"] for r in body["items"]]
    assert created == sorted(created, reverse=True)
    only_hourly = client.get("/api/runs", params={"job_id": HOURLY_JOB_ID, "status": "running"}).json()
    assert [r["run_id"] for r in only_hourly["items"]] == [filled.running_run]


def test_run_report_with_sources_and_links(client, filled):
    body = client.get(f"/api/runs/{filled.latest_failed_run}").json()
    assert body["status"] == "error"
    assert body["job_id"] == NIGHTLY_JOB_ID
    assert body["summary"]["error"] == 1 and body["summary"]["fail"] == 1 and body["summary"]["skipped"] == 2
    assert [s["index"] for s in body["steps"]] == [1, 2, 3, 4, 5]
    assert body["url"].startswith("http")
    kinds = [s["kind"] for s in body["sources"]]
    assert kinds.count("airflow") == 1 and kinds.count("monitor") == 1
    airflow = next(s for s in body["sources"] if s["kind"] == "airflow")
    assert airflow["airflow_url"] == (
        "http://airflow.example:8080/dags/dbt_nightly/runs/scheduled__2026-11-25T02%3A00%3A00%2B00%3A00"
        "/tasks/run_nightly"
    )
    assert body["page_url"].startswith(f"/runs/{filled.latest_failed_run}?")


def test_run_nodes_failures_first_with_filters(client, filled):
    path = f"/api/runs/{filled.latest_failed_run}/nodes"
    body = client.get(path).json()
    statuses = [n["status"] for n in body["items"]]
    assert statuses[:2] == ["error", "fail"]
    assert statuses[2:4] == ["warn", "warn"]
    assert set(statuses[4:6]) == {"skipped"}
    assert body["by_status"]["error"] == 1 and body["by_resource_type"]["model"] >= 1
    models = client.get(path, params={"type": "model", "status": "skipped"}).json()
    assert [n["unique_id"] for n in models["items"]] == [SKIPPED_MODEL_ID]
    found = client.get(path, params={"q": "REVENUE_BY"}).json()
    assert FAILING_TEST_ID in {n["unique_id"] for n in found["items"]}
    step4 = client.get(path, params={"step": 4}).json()
    assert {n["resource_type"] for n in step4["items"]} == {"source"}
    paged = client.get(path, params={"page_size": 5, "page": 2}).json()
    assert paged["total"] == body["total"] and len(paged["items"]) == 5


def test_run_lineage_links_error_to_skipped_downstream(client, filled):
    lineage = client.get(f"/api/runs/{filled.latest_failed_run}/lineage").json()
    by_node = {item["node"]["unique_id"]: item for item in lineage}
    assert set(by_node) == {ERROR_MODEL_ID, FAILING_TEST_ID}
    skipped = {n["unique_id"] for n in by_node[ERROR_MODEL_ID]["skipped_downstream"]}
    assert SKIPPED_MODEL_ID in skipped
    assert by_node[ERROR_MODEL_ID]["failed_upstream"] == []


def test_run_timeline_has_timed_nodes_per_step(client, filled):
    timeline = client.get(f"/api/runs/{filled.latest_failed_run}/timeline").json()
    assert [s["step_index"] for s in timeline] == [4, 5]
    build = timeline[1]["nodes"]
    assert all(n["start"] and n["end"] >= n["start"] for n in build if n["status"] != "skipped")
    assert {n["thread_id"] for n in build} - {None}


def test_node_history_says_since_when_it_fails(client, filled):
    body = client.get(f"/api/nodes/{FAILING_TEST_ID}").json()
    assert body["name"] == "assert_revenue_by_payment_method_is_positive"
    assert [r["run_id"] for r in body["items"]] == filled.nightly_runs[::-1][:3]
    assert body["trend"]["failing"] is True
    assert body["trend"]["failing_runs"] == 3
    assert body["trend"]["failing_since_run_id"] == filled.nightly_runs[4]
    healthy = client.get(f"/api/nodes/{HEALTHY_MODEL_ID}", params={"job_id": NIGHTLY_JOB_ID}).json()
    assert healthy["total"] == len(filled.nightly_runs)
    assert healthy["trend"]["failing"] is False
    assert healthy["trend"]["recent_median_seconds"] is not None


def test_unknown_ids_answer_404_json(client):
    for path in (
        "/api/runs/1",
        "/api/pipelines/999999",
        "/api/nodes/model.nope.nothing",
        "/api/runs/abc",
        "/api/runs/1/nodes",
        "/api/nope",
    ):
        response = client.get(path)
        assert response.status_code == 404, path
        assert response.headers["content-type"].startswith("application/json")
        assert "detail" in response.json()


def test_bad_filters_answer_400(client):
    response = client.get(f"/api/pipelines/{NIGHTLY_JOB_ID}", params={"since": "yesterday"})
    assert response.status_code == 400
    assert "2026-11-25" in response.json()["detail"]
    assert client.get("/api/runs", params={"status": "bogus"}).status_code == 400


def test_no_token_in_any_answer(client, filled):
    paths = [
        "/api/pipelines",
        f"/api/pipelines/{NIGHTLY_JOB_ID}",
        "/api/runs",
        f"/api/runs/{filled.latest_failed_run}",
        f"/api/runs/{filled.latest_failed_run}/nodes",
        f"/api/nodes/{FAILING_TEST_ID}",
    ]
    for path in paths:
        assert DEMO_TOKEN not in client.get(path).text, path
