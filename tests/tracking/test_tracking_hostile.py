"""Issue 10: the store never loses data and never chokes on hostile values, on SQLite and PostgreSQL.

Every test collects through the real client and collector from a real loopback server
(``tests/hostile_dbt_cloud.py``) into a real store.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timezone

import pytest
import sqlalchemy as sa
from hostile_dbt_cloud import ACCOUNT_ID, BUILD_STEP, MANIFEST, RUN_RESULTS, TOKEN, HostileDbtCloud, Reply, node_id

from airflow_provider_databand_dbt import collect_data_from_dbt_cloud
from airflow_provider_databand_dbt.dbt_cloud.errors import DbtCloudInvalidResponseError
from airflow_provider_databand_dbt.dbt_cloud.retry import RetryPolicy
from airflow_provider_databand_dbt.tracking import schema

FAST_RETRY = RetryPolicy(max_attempts=2, backoff_base=0.0, backoff_max=0.0, jitter=False)


def collect(cloud: HostileDbtCloud, run_id: int, store):
    return collect_data_from_dbt_cloud(
        ACCOUNT_ID, TOKEN, run_id, cloud.url, store=store, client_options={"retry": FAST_RETRY}
    )


def stored_nodes(store, run_id: int) -> dict:
    report = store.get_report(run_id)
    return {node.unique_id: node for _, node in report.iter_nodes()}


# -- item 1: a re-collection never erases what it could not read ---------------------------------


@pytest.mark.parametrize("status", [404, 503])
def test_recollecting_with_unavailable_artifacts_keeps_the_stored_nodes(store, status):
    with HostileDbtCloud() as cloud:
        cloud.add_run(7014, nodes=55)
        first = collect(cloud, 7014, store)
        cloud.fail_artifacts(7014, status)
        second = collect(cloud, 7014, store)

    assert len(first.steps[1].nodes) == 55
    assert second.steps[1].nodes == []  # the collector reports what it read this time...
    stored = store.get_report(7014)
    assert [node for _, node in stored.iter_nodes()] == first.steps[1].nodes  # ...the store keeps all 55
    step = stored.steps[1]
    assert step.artifacts_missing == []  # what the stored nodes came from was complete
    assert step.reread_failed is not None
    assert {item.artifact for item in step.reread_failed.artifacts_missing} == {MANIFEST, RUN_RESULTS}
    assert all(str(status) in item.reason for item in step.reread_failed.artifacts_missing)
    listed = store.list_runs()[0]
    assert (listed.node_count, listed.summary) == (55, {"success": 55})


def test_a_later_successful_read_updates_nodes_and_clears_the_failed_reread(store):
    with HostileDbtCloud() as cloud:
        cloud.add_run(7015, nodes=6)
        collect(cloud, 7015, store)
        cloud.fail_artifacts(7015, 404)
        collect(cloud, 7015, store)
        cloud.set_artifact(7015, MANIFEST, None)
        cloud.set_artifact(7015, RUN_RESULTS, None)
        cloud.node(7015, 2)["status"] = "error"
        collect(cloud, 7015, store)

    stored = store.get_report(7015)
    assert stored.steps[1].reread_failed is None
    assert stored_nodes(store, 7015)[node_id(2)].status == "error"
    assert store.list_runs()[0].summary == {"success": 5, "error": 1}


def test_a_missing_manifest_keeps_the_stored_definitions_and_updates_results(store):
    with HostileDbtCloud() as cloud:
        cloud.add_run(7016, nodes=4)
        collect(cloud, 7016, store)
        cloud.set_artifact(7016, MANIFEST, Reply.envelope(None, 404, "gone"))
        cloud.node(7016, 1)["status"] = "error"
        collect(cloud, 7016, store)

    node = stored_nodes(store, 7016)[node_id(1)]
    assert (node.status, node.materialization, node.tags, node.depends_on) == (
        "error",
        "table",
        ["nightly"],
        [node_id(0)],
    )
    step = store.get_report(7016).steps[1]
    assert [item.artifact for item in step.reread_failed.artifacts_missing] == [MANIFEST]


# -- item 2: hostile values are stored (clamped, with notes) or refused with a tracking error ------


def _nul(cloud, run_id):
    cloud.run(run_id)["git_branch"] = "main\x00evil"
    cloud.run(run_id)["job"]["name"] = "Nightly\x00"
    cloud.node(run_id, 0)["message"] = "bad\x00byte"


def _long_texts(cloud, run_id):
    cloud.run(run_id)["job"]["name"] = "J" * 5000
    cloud.run(run_id)["git_branch"] = "b" * 3000
    cloud.run(run_id)["git_sha"] = "f" * 600
    cloud.node(run_id, 0)["thread_id"] = "t" * 2000


def _big_failures(cloud, run_id):
    cloud.node(run_id, 0)["failures"] = 2**40
    cloud.node(run_id, 1)["failures"] = 2**70


def _big_rows(cloud, run_id):
    cloud.node(run_id, 0)["adapter_response"]["rows_affected"] = 2**63
    cloud.node(run_id, 1)["adapter_response"]["rows_affected"] = 2**63 - 1


def _year_one(cloud, run_id):
    cloud.node(run_id, 0)["timing"][0]["started_at"] = "0001-01-01T00:00:00+05:00"
    cloud.run(run_id)["created_at"] = "0001-01-01T01:00:00+03:00"


def _long_unique_id(cloud, run_id):
    cloud.node(run_id, 0)["unique_id"] = "model.hostile." + "é" * 3000


HOSTILE = {
    "nul": _nul,
    "long_texts": _long_texts,
    "big_failures": _big_failures,
    "big_rows_affected": _big_rows,
    "year_one_with_offset": _year_one,
    "long_unique_id": _long_unique_id,
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_a_hostile_run_is_stored_with_notes(store, case):
    with HostileDbtCloud() as cloud:
        cloud.add_run(7020, nodes=3)
        HOSTILE[case](cloud, 7020)
        collect(cloud, 7020, store)

    stored = store.get_report(7020)
    nodes = [node for _, node in stored.iter_nodes()]
    assert len(nodes) == 3
    postgres = store.dialect == "postgresql"
    if case == "nul":
        assert stored.git_branch == ("mainevil" if postgres else "main\x00evil")
        assert nodes[0].message == ("badbyte" if postgres else "bad\x00byte")
        assert any("NUL bytes removed from run git_branch" in note for note in stored.notes) == postgres
    elif case == "long_texts":
        assert (len(stored.job_name), len(stored.git_branch), len(stored.git_sha)) == (5000, 3000, 600)
        assert len(nodes[0].thread_id) == 2000 and stored.notes == []
        assert store.list_pipelines()[0].name == "J" * 5000
    elif case == "big_failures":
        assert (nodes[0].failures, nodes[1].failures) == (2**40, None)
        assert stored.notes == [
            "node failures beyond the 64-bit integer range, stored as null (e.g. model.hostile.node_1)"
        ]
    elif case == "big_rows_affected":
        assert (nodes[0].rows_affected, nodes[1].rows_affected) == (None, 2**63 - 1)
        assert "node rows_affected beyond the 64-bit integer range" in stored.notes[0]
    elif case == "year_one_with_offset":
        assert nodes[0].started_at is None and nodes[0].finished_at is not None
        assert stored.created_at is None and stored.started_at is not None
        assert any(note.startswith("node started_at out of the representable date range") for note in stored.notes)
        assert any(note.startswith("run created_at out of the representable date range") for note in stored.notes)
    elif case == "long_unique_id":
        assert len(nodes[0].unique_id) <= 1024 and nodes[0].unique_id.startswith("model.hostile.éé")
        assert "shortened with a hash" in stored.notes[0]
    assert store.list_runs()[0].notes == stored.notes


def test_notes_are_not_repeated_when_a_run_is_collected_again(store):
    with HostileDbtCloud() as cloud:
        cloud.add_run(7021, nodes=2)
        _big_failures(cloud, 7021)
        collect(cloud, 7021, store)
        collect(cloud, 7021, store)

    assert len(store.get_report(7021).notes) == 1


def test_show_prints_the_notes_and_the_failed_reread(tracking_url):
    from airflow_provider_databand_dbt.tracking.store import TrackingStore

    with HostileDbtCloud() as cloud, TrackingStore(tracking_url) as store:
        cloud.add_run(7022, nodes=2)
        _big_rows(cloud, 7022)
        collect(cloud, 7022, store)
        cloud.fail_artifacts(7022, 404)
        collect(cloud, 7022, store)

    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [os.getcwd(), os.environ.get("PYTHONPATH")]))}
    command = [
        sys.executable,
        "-m",
        "airflow_provider_databand_dbt.cli",
        "show",
        "7022",
        "--tracking-url",
        tracking_url,
    ]
    text = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120, check=False)
    data = subprocess.run([*command, "--json"], capture_output=True, text=True, env=env, timeout=120, check=False)

    assert text.returncode == 0 and data.returncode == 0, text.stderr + data.stderr
    assert "note: node rows_affected beyond the 64-bit integer range" in text.stdout
    assert "re-read failed" in text.stdout and "nodes kept from an earlier collection" in text.stdout
    payload = json.loads(data.stdout)
    assert payload["notes"][0].startswith("node rows_affected beyond")
    assert payload["steps"][1]["reread_failed"]["artifacts_missing"][0]["artifact"] in (MANIFEST, RUN_RESULTS)
    assert len([node for step in payload["steps"] for node in step["nodes"]]) == 2


# -- item 3: an artifact without results is reported, not taken for 0 nodes -------------------------


@pytest.mark.parametrize(
    "reply",
    [
        Reply.json({}),
        Reply.envelope(None, 200, "Artifact not found"),
        Reply.json({"status": {"code": 404, "is_success": False}, "data": None}),
        Reply.json({"metadata": {"dbt_version": "1.9.0"}, "results": None}),
    ],
    ids=["empty_object", "envelope", "error_envelope_200", "null_results"],
)
def test_run_results_without_results_is_reported_missing(store, reply):
    with HostileDbtCloud() as cloud:
        cloud.add_run(7030, nodes=3)
        cloud.set_artifact(7030, RUN_RESULTS, reply)
        report = collect(cloud, 7030, store)

    missing = report.steps[1].artifacts_missing
    assert [item.artifact for item in missing] == [RUN_RESULTS]
    assert "has no `results`" in missing[0].reason
    assert store.get_report(7030).steps[1].artifacts_missing == missing


def test_a_manifest_without_nodes_is_reported_missing(store):
    with HostileDbtCloud() as cloud:
        cloud.add_run(7031, nodes=2)
        cloud.set_artifact(7031, MANIFEST, Reply.json({}))
        report = collect(cloud, 7031, store)

    assert [item.artifact for item in report.steps[1].artifacts_missing] == [MANIFEST]
    assert len(report.steps[1].nodes) == 2  # results are still kept, with names from their unique ids


def test_an_empty_results_list_is_a_real_run_with_no_nodes(store):
    with HostileDbtCloud() as cloud:
        cloud.add_run(7032, nodes=0)
        report = collect(cloud, 7032, store)

    assert report.steps[1].artifacts_missing == [] and report.steps[1].nodes == []


# -- item 4: an answer about another run or account never rewrites the tracking key --------------


@pytest.mark.parametrize("field, value", [("id", 99999), ("account_id", 2)])
def test_an_answer_about_another_run_is_refused(store, field, value):
    with HostileDbtCloud() as cloud:
        cloud.add_run(7040, nodes=2)
        cloud.run(7040)[field] = value
        with pytest.raises(DbtCloudInvalidResponseError) as caught:
            collect(cloud, 7040, store)

    message = str(caught.value)
    assert "run 7040 of account 1" in message and "\n" not in message and TOKEN not in message
    with store.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(schema.runs)).scalar() == 0


def test_collected_at_is_not_affected_by_hostile_dates(store):
    with HostileDbtCloud() as cloud:
        cloud.add_run(7050, nodes=1)
        cloud.run(7050)["finished_at"] = "9999-12-31T23:59:59-05:00"
        collect(cloud, 7050, store)

    stored = store.get_report(7050)
    assert stored.finished_at is None and stored.collected_at <= datetime.now(timezone.utc)
    assert stored.steps[1].nodes[0].unique_id == node_id(0) and BUILD_STEP == stored.steps[1].index


def test_values_no_answer_can_carry_are_fitted_when_a_report_is_built_in_python(store):
    """Reports built by callers (not decoded from JSON) can hold surrogates, inf and huge step indexes."""
    import msgspec
    from report_factory import make_report

    report = make_report(7060, node_count=3)
    build = report.steps[1]
    nodes = list(build.nodes)
    nodes[0] = msgspec.structs.replace(nodes[0], message="bad \ud800 text", execution_time=float("inf"))
    nodes[1] = msgspec.structs.replace(nodes[1], status="s" * 100)
    huge_step = msgspec.structs.replace(build, index=2**40, nodes=[])
    report = msgspec.structs.replace(
        report, steps=[report.steps[0], msgspec.structs.replace(build, nodes=nodes), huge_step], job_id=2**64
    )

    store.save_report(report)

    stored = store.get_report(7060)
    assert [step.index for step in stored.steps] == [1, 4] and stored.job_id is None
    first, second = stored.steps[1].nodes[:2]
    assert (first.message, first.execution_time, second.status) == ("bad ? text", None, "s" * 32)
    assert len(stored.notes) == 5


def test_a_run_that_cannot_be_stored_is_refused_with_a_tracking_error_naming_it(store):
    import msgspec
    from report_factory import make_report

    from airflow_provider_databand_dbt.tracking.errors import RunNotStorable

    report = make_report(7070, node_count=2)
    # A caller's bug no fitting can repair: a count that is not a number.
    report.steps[1].nodes[0] = msgspec.structs.replace(report.steps[1].nodes[0], rows_affected="12 rows")

    with pytest.raises(RunNotStorable) as caught:
        store.save_report(report)

    message = str(caught.value)
    assert "could not save run 7070 of account 1 on cloud.getdbt.com" in message and "\n" not in message
    assert store.get_report(7070) is None
