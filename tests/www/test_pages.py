"""The HTML pages over the emulator-filled store: content, clear errors, no tracebacks, no secrets."""

from __future__ import annotations

import re

from web_fill import ERROR_MODEL_ID, FAILING_TEST, FAILING_TEST_ID, SKIPPED_MODEL

from airflow_provider_databand_dbt.testing.emulator import DEMO_TOKEN, HOURLY_JOB_ID, NIGHTLY_JOB_ID


def _html(client, path: str, expect: int = 200, **params) -> str:
    response = client.get(path, params=params)
    assert response.status_code == expect, (path, response.text[:500])
    assert response.headers["content-type"].startswith("text/html")
    assert "Traceback" not in response.text
    return response.text


def _node_table(html: str) -> str:
    start = html.index('<table class="grid nodes">')
    return html[start : html.index("</table>", start)]


def test_pipelines_page_lists_jobs_with_health(client, filled):
    html = _html(client, "/")
    assert "Nightly build" in html and "Hourly models" in html
    assert f'href="/pipelines/{NIGHTLY_JOB_ID}"' in html
    assert f'href="/runs/{filled.latest_failed_run}"' in html
    assert "57%" in html  # 4 of the 7 nightly runs passed
    assert html.count('class="spark"') == 2
    assert "Airflow" in html and "monitor" in html
    assert _html(client, "/pipelines") == html


def test_pipeline_page_has_trend_with_failures_marked_and_runs(client, filled):
    html = _html(client, f"/pipelines/{NIGHTLY_JOB_ID}")
    assert 'class="chart trend"' in html
    assert html.count('class="mark-bad failed-mark"') == 3
    for run_id in filled.nightly_runs:
        assert f"/runs/{run_id}" in html
    filtered = _html(client, f"/pipelines/{NIGHTLY_JOB_ID}", status="success")
    table = filtered[filtered.index('<table class="grid runs">') :]
    assert f">{filled.latest_failed_run}<" not in table
    assert f">{filled.nightly_runs[0]}<" in table
    assert "1–4 of 4 runs" in filtered


def test_runs_page_lists_every_pipeline(client, filled):
    html = _html(client, "/runs")
    assert "Nightly build" in html and "Hourly models" in html
    assert str(filled.running_run) in html


def test_run_page_shows_header_steps_nodes_lineage_and_timeline(client, filled):
    html = _html(client, f"/runs/{filled.latest_failed_run}")
    assert f'Run <span class="mono">{filled.latest_failed_run}</span>' in html
    for fact in ("Triggered by schedule", "main", "1.10", "open run"):
        assert fact in html
    assert 'href="http://airflow.example:8080/dags/dbt_nightly/runs/' in html  # the Airflow task link
    assert "Invoke dbt with `dbt build`" in html
    assert FAILING_TEST in html and SKIPPED_MODEL in html
    lineage = html[html.index('id="lineage"') : html.index('id="steps"')]
    assert "customer_ltv_forecast" in lineage and SKIPPED_MODEL in lineage
    nodes = html[html.index('id="nodes"') : html.index('id="timeline"')]
    first_rows = re.findall(r'<tr class="row-(\w+)">', nodes)[:4]
    assert first_rows == ["bad", "bad", "warn", "warn"]  # failures and warnings first
    assert html.count('class="chart gantt"') == 2  # one Gantt per step with node timings


def test_run_page_node_filters(client, filled):
    html = _html(client, f"/runs/{filled.latest_failed_run}", type="model", status="skipped")
    table = _node_table(html)
    assert SKIPPED_MODEL in table and FAILING_TEST not in table
    searched = _html(client, f"/runs/{filled.latest_failed_run}", q="revenue_by_payment")
    table = _node_table(searched)
    assert FAILING_TEST in table and SKIPPED_MODEL not in table
    none = _html(client, f"/runs/{filled.latest_failed_run}", q="no-such-node-anywhere")
    assert "No nodes match these filters." in none


def test_run_in_progress_says_so(client, filled):
    html = _html(client, f"/runs/{filled.running_run}")
    assert "This run is still in progress" in html
    assert "running" in html


def test_run_with_missing_artifacts_says_so(client, filled):
    html = _html(client, f"/runs/{filled.missing_artifacts_run}")
    assert 'id="missing-artifacts"' in html
    assert "run_results.json" in html
    assert "No node results for this run." in html


def test_node_history_page(client, filled):
    html = _html(client, f"/nodes/{FAILING_TEST_ID}")
    assert "Failing since run" in html and str(filled.nightly_runs[4]) in html
    assert 'class="chart trend"' in html
    assert html.count('<tr class="row-bad">') == 3
    redirected = client.get("/nodes", params={"unique_id": ERROR_MODEL_ID}, follow_redirects=False)
    assert redirected.status_code == 303
    assert redirected.headers["location"] == f"/nodes/{ERROR_MODEL_ID}"
    found = _html(client, "/nodes", q="ltv_forecast")
    assert f'href="/nodes/{ERROR_MODEL_ID}"' in found


def test_unknown_addresses_get_clear_404_pages(client):
    for path, words in (
        ("/runs/1", "Run 1 is not in this tracking store"),
        ("/runs/not-a-number", "must be a number"),
        ("/pipelines/424242", "No pipeline for dbt Cloud job 424242"),
        ("/nodes/model.nope.nothing", "No results for node"),
        ("/no/such/page", "There is no page at this address"),
    ):
        html = _html(client, path, expect=404)
        assert words in html, path
        assert 'class="card error-page"' in html


def test_bad_filter_values_get_a_400_page(client):
    html = _html(client, f"/pipelines/{NIGHTLY_JOB_ID}", expect=400, since="last tuesday")
    assert "since must be a date like 2026-11-25" in html
    html = _html(client, "/runs", expect=400, since="2026-02-01", until="2026-01-01")
    assert "is after until" in html


def test_no_token_on_any_page(client, filled):
    pages = [
        "/",
        f"/pipelines/{NIGHTLY_JOB_ID}",
        f"/pipelines/{HOURLY_JOB_ID}",
        "/runs",
        f"/runs/{filled.latest_failed_run}",
        f"/runs/{filled.running_run}",
        f"/nodes/{FAILING_TEST_ID}",
    ]
    for path in pages:
        assert DEMO_TOKEN not in _html(client, path), path


def test_static_assets_are_local(client):
    html = _html(client, "/")
    assert not re.search(r'(src|href)="(https?:)?//', html)  # no CDN, nothing fetched from elsewhere
    assert client.get("/static/style.css").status_code == 200
    assert client.get("/static/app.js").status_code == 200
