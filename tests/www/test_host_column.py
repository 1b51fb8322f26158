"""A store with runs from several dbt Cloud hosts shows a Host column in the pipelines and runs lists.

Two dbt Cloud hosts can have the same job names and run ids (two tenants, the demo emulator on two
ports): without the host the rows look identical. A single-host store keeps its pages as they were.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

from web_reports import cli_source, report

HOSTS = ("cloud.getdbt.com", "127.0.0.1:8787")
HEADER = "<th>Host</th>"
# A host cell, then the row's link, whose ?host= says which host the row really is.
PIPELINE_ROW = re.compile(
    r'<td class="mono host">([^<]*)</td>\s*<td>\s*<a class="strong" href="/pipelines/(\d+)'
    r'\?account=1&amp;host=([^"]*)"'
)
RUN_ROW = re.compile(
    r'<td class="mono host">([^<]*)</td>\s*<td><a class="strong mono" href="/runs/(\d+)'
    r'\?account=1&amp;host=([^"]*)"'
)


def test_single_host_store_has_no_host_column(app_for, store, tracking_url):
    store.save_report(report(101, host=HOSTS[0], job_id=55), cli_source())
    client = app_for(tracking_url)
    for path in ("/", "/runs", "/pipelines/55"):
        page = client.get(path)
        assert page.status_code == 200
        assert HEADER not in page.text and 'class="mono host"' not in page.text, path


def test_two_hosts_show_which_row_is_which(app_for, store, tracking_url):
    for host in HOSTS:  # the same job and run ids on both hosts
        store.save_report(report(101, host=host, job_id=55), cli_source())
        store.save_report(report(102, host=host, job_id=56), cli_source())
    client = app_for(tracking_url)

    pipelines = client.get("/").text
    assert pipelines.count(HEADER) == 1
    rows = PIPELINE_ROW.findall(pipelines)
    assert sorted((host, int(job)) for host, job, _ in rows) == sorted((h, j) for h in HOSTS for j in (55, 56))
    assert all(shown == unquote(linked) for shown, _, linked in rows)

    runs = client.get("/runs").text
    assert runs.count(HEADER) == 1
    rows = RUN_ROW.findall(runs)
    assert sorted((host, int(run)) for host, run, _ in rows) == sorted((h, r) for h in HOSTS for r in (101, 102))
    assert all(shown == unquote(linked) for shown, _, linked in rows)
    filtered = client.get("/runs", params={"status": "success"}).text
    assert filtered.count(HEADER) == 1

    # One pipeline's runs all come from its host, named in the page header: no column there.
    pipeline = client.get("/pipelines/55", params={"host": HOSTS[1], "account": 1}).text
    assert HEADER not in pipeline and HOSTS[1] in pipeline
