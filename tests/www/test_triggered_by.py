"""The "triggered by" of a run whose cause was written by anyone: shown as text, linked only URL-encoded."""

from __future__ import annotations

import msgspec
from web_reports import cli_source, report

HOSTILE = (
    "[airflow dag=%3Cscript%3Ealert%281%29%3C%2Fscript%3E&task=t%22%20onclick%3D%22x"
    "&run=r%2F..%2F..%2Fadmin%3Fa%3D1%26b%3D%3Cb%3E&map=1]"
)


def test_a_hostile_cause_is_escaped_and_its_link_encoded(app_for, store, tracking_url):
    run = msgspec.structs.replace(report(9191), trigger_cause=HOSTILE)
    store.save_report(run, cli_source())
    client = app_for(tracking_url, airflow_url="http://airflow.example:8080")
    page = client.get("/runs/9191").text
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert 'onclick="x' not in page
    link = (
        "http://airflow.example:8080/dags/%3Cscript%3Ealert%281%29%3C%2Fscript%3E/runs/"
        "r%2F..%2F..%2Fadmin%3Fa%3D1%26b%3D%3Cb%3E/tasks/t%22%20onclick%3D%22x/mapped/1"
    )
    assert f'href="{link}"' in page
    api = client.get("/api/runs/9191").json()["triggered_by"]
    assert api["dag_id"] == "<script>alert(1)</script>" and api["airflow_url"] == link


def test_a_run_stored_before_attribution_existed_gets_it_and_others_get_null(app_for, store, tracking_url):
    """Parsed from the stored cause at read time: no schema change, old runs included."""
    store.save_report(
        msgspec.structs.replace(
            report(9292), trigger_cause="Triggered via Apache Airflow by task 'load' in the sales DAG."
        ),
        cli_source(),
    )
    store.save_report(report(9393), cli_source())
    client = app_for(tracking_url)
    found = client.get("/api/runs/9292").json()["triggered_by"]
    assert (found["dag_id"], found["task_id"], found["airflow_url"]) == ("sales", "load", None)
    assert client.get("/api/runs/9393").json()["triggered_by"] is None
    assert 'id="triggered-by"' not in client.get("/runs/9393").text
