"""Property tests over generated hostile dbt Cloud answers, on SQLite and PostgreSQL (issue 10).

Hypothesis writes hostile values into a run object and its run_results.json entries (wrong types,
huge numbers, NUL bytes, long texts, dates out of range, artifacts without results), a real loopback
server answers them, and the real collector stores them. Two properties:

- a re-collection never loses a node the store already has;
- a run is either stored (readable back, with notes for what was clamped) or refused with a
  tracking error or a bad-response error, never a crash of another kind.
"""

from __future__ import annotations

import itertools
import json

import pytest
from hostile_dbt_cloud import ACCOUNT_ID, RUN_RESULTS, TOKEN, HostileDbtCloud, Reply, node_id
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_provider_databand_dbt import collect_data_from_dbt_cloud
from airflow_provider_databand_dbt.dbt_cloud.errors import DbtCloudInvalidResponseError
from airflow_provider_databand_dbt.dbt_cloud.retry import RetryPolicy
from airflow_provider_databand_dbt.tracking.errors import TrackingError

NODES = 4
REFUSED = (TrackingError, DbtCloudInvalidResponseError)
SETTINGS = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture], database=None
)
_run_ids = itertools.count(20_000)

texts = st.one_of(
    st.text(max_size=12),
    st.text(alphabet=st.sampled_from(["a", "\x00", "é", "\u2603", "\n", "'"]), max_size=12),
    st.sampled_from([255, 1024, 1025, 3000]).map(lambda n: "x" * n),
    st.sampled_from([1000, 2000]).map(lambda n: "é" * n),
)
integers = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([2**31, 2**31 - 1, 2**63 - 1, 2**63, 2**64, -(2**63) - 1]),
)
dates = st.one_of(
    st.sampled_from(
        [
            "0001-01-01T00:00:00+05:00",
            "0001-01-01T00:00:00Z",
            "9999-12-31T23:59:59-05:00",
            "2026-13-45T00:00:00Z",
            "not a date",
            "",
            "2026-11-20 08:00:00",
        ]
    ),
    st.datetimes(timezones=st.timezones()).map(lambda value: value.isoformat()),
)
anything = st.one_of(
    st.none(),
    st.booleans(),
    texts,
    integers,
    st.floats(allow_nan=False),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)

RUN_FIELDS = {
    "git_branch": texts,
    "git_sha": texts,
    "dbt_version": texts,
    "status_message": texts,
    "href": texts,
    "created_at": dates,
    "started_at": dates,
    "finished_at": dates,
    "job_definition_id": integers,
    "project_id": integers,
    "environment_id": integers,
    "status": anything,
}
NODE_FIELDS = {
    "unique_id": texts,
    "status": texts,
    "message": texts,
    "thread_id": texts,
    "failures": st.one_of(integers, anything),
    "execution_time": st.one_of(st.floats(allow_nan=True, allow_infinity=True), anything),
}
run_changes = st.dictionaries(st.sampled_from(sorted(RUN_FIELDS)), st.none(), max_size=4).flatmap(
    lambda keys: st.fixed_dictionaries({key: RUN_FIELDS[key] for key in keys})
)
node_changes = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=NODES - 1),
        st.one_of(
            st.sampled_from(sorted(NODE_FIELDS)).flatmap(lambda key: st.tuples(st.just(key), NODE_FIELDS[key])),
            st.tuples(st.just("rows_affected"), st.one_of(integers, anything)),
            st.tuples(st.just("timing"), dates),
        ),
    ),
    max_size=5,
)
names = st.one_of(st.none(), texts)
results_replies = st.one_of(
    st.none(),  # the generated artifact, with the node changes
    st.sampled_from(
        [
            Reply.json({}),
            Reply.json([]),
            Reply.json(None),
            Reply.envelope(None, 200),
            Reply.envelope(None, 404),
            Reply.envelope(None, 503),
            Reply(200, b"<html>moved</html>", "text/html"),
            Reply(200, b'{"results": [{"uni'),
        ]
    ),
)


def _apply(cloud: HostileDbtCloud, run_id: int, run: dict, nodes: list, job_name, reply) -> None:
    data = cloud.run(run_id)
    data.update(run)
    data["job"]["name"] = job_name
    for i, (name, value) in nodes:
        entry = cloud.node(run_id, i)
        if name == "rows_affected":
            entry["adapter_response"]["rows_affected"] = value
        elif name == "timing":
            entry["timing"][0]["started_at"] = value
        else:
            entry[name] = value
    if reply is not None:
        cloud.set_artifact(run_id, RUN_RESULTS, reply)


def _collect(cloud: HostileDbtCloud, run_id: int, store):
    retry = RetryPolicy(max_attempts=1)
    return collect_data_from_dbt_cloud(
        ACCOUNT_ID, TOKEN, run_id, cloud.url, store=store, client_options={"retry": retry}
    )


def _read_back(store, run_id: int):
    """Everything a reader does with a stored run must work: report, JSON, listings, node history."""
    report = store.get_report(run_id)
    json.loads(report.to_json())
    store.list_runs(limit=5)
    store.list_pipelines()
    for _, node in list(report.iter_nodes())[:2]:
        store.node_history(node.unique_id, limit=2)
    return report


@pytest.fixture(scope="module")
def cloud():
    with HostileDbtCloud(project_name="P\x00" + "p" * 2000, environment_name=None) as server:
        yield server


@SETTINGS
@given(run=run_changes, nodes=node_changes, job_name=names, reply=results_replies)
def test_recollecting_a_hostile_snapshot_never_loses_stored_nodes(store, cloud, run, nodes, job_name, reply):
    run_id = next(_run_ids)
    cloud.add_run(run_id, nodes=NODES)
    _collect(cloud, run_id, store)
    before = {node.unique_id for _, node in store.get_report(run_id).iter_nodes()}

    _apply(cloud, run_id, run, nodes, job_name, reply)
    try:
        _collect(cloud, run_id, store)
    except REFUSED:
        pass

    after = {node.unique_id for _, node in _read_back(store, run_id).iter_nodes()}
    assert before == {node_id(i) for i in range(NODES)}
    assert before <= after


@SETTINGS
@given(run=run_changes, nodes=node_changes, job_name=names, reply=results_replies)
def test_a_hostile_run_is_stored_or_refused_with_a_clear_error(store, cloud, run, nodes, job_name, reply):
    run_id = next(_run_ids)
    cloud.add_run(run_id, nodes=NODES)
    _apply(cloud, run_id, run, nodes, job_name, reply)
    try:
        collected = _collect(cloud, run_id, store)
    except REFUSED as error:
        message = str(error)
        assert message and "\n" not in message and TOKEN not in message
        assert str(run_id) in message  # "run 20001 of account 1" or the run's URL
        return

    stored = _read_back(store, run_id)
    assert stored.run_id == run_id and stored.account_id == ACCOUNT_ID
    assert len(list(stored.iter_nodes())) == len(list(collected.iter_nodes()))
    if store.dialect == "postgresql":
        assert "\x00" not in stored.to_json().decode("unicode_escape", "ignore")
