"""One struct for a stored run: the Python API, ``databand-dbt runs --json`` and the web JSON API list the same fields.

The Python API's and the CLI's former name of the trackers, ``source_kinds``, stays readable beside ``trackers``.
"""

from __future__ import annotations

import json
import sys
from datetime import timedelta
from pathlib import Path

import msgspec
from web_reports import T0, node, report

from airflow_provider_databand_dbt.model.source import TrackingSource
from airflow_provider_databand_dbt.tracking import rows
from airflow_provider_databand_dbt.tracking.read import models
from airflow_provider_databand_dbt.tracking.store import TrackingStore

sys.path.insert(0, str(Path(__file__).parents[1] / "cli"))
from cli_run import databand_dbt


def _fill(url: str) -> None:
    with TrackingStore(url) as store:
        failed = report(7001, status="error", nodes=(node("model.p.a", "success"), node("test.p.t", "fail")))
        store.save_report(failed, TrackingSource(kind="monitor", name="prod"))
        store.save_report(failed, TrackingSource(kind="airflow", dag_id="d", task_id="t"))
        store.save_report(report(7002, created_at=T0 + timedelta(hours=1)), TrackingSource(kind="cli"))


def test_python_api_cli_and_web_list_one_run_row(tracking_url, app_for):
    _fill(tracking_url)
    assert rows.RunRow is models.RunRow  # TrackingStore.list_runs and the reader return the same struct

    with TrackingStore(tracking_url) as store:
        listed = store.list_runs()
    web = app_for(tracking_url).get("/api/runs").json()["items"]
    done = databand_dbt("runs", "--json", tracking_url=tracking_url)
    assert done.returncode == 0, done.stderr
    cli = json.loads(done.stdout)["runs"]

    ids = [7002, 7001]
    assert [r.run_id for r in listed] == [i["run_id"] for i in web] == [i["run_id"] for i in cli] == ids
    assert [r.trackers for r in listed] == [["cli"], ["airflow", "monitor"]]
    assert [r.source_kinds for r in listed] == [r.trackers for r in listed]  # the former attribute name
    assert web == msgspec.to_builtins(listed)  # every field of a stored run, on the web too
    assert cli == [{**item, "source_kinds": item["trackers"]} for item in web]  # plus the CLI's former key
    assert listed[1].summary == {"success": 1, "fail": 1} and listed[1].node_count == 2
    assert {"run_pk", "first_tracked_at", "updated_at", "git_sha", "notes"} <= set(web[0])
