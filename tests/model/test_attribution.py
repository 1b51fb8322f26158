"""Who triggered a run, read back from its cause: the three writers' formats, hostile causes, the 255 cap."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_provider_databand_dbt.airflow_links import airflow_task_url
from airflow_provider_databand_dbt.model.attribution import Attribution, attribution_from_cause

CAUSE_MAX_CHARS = 255  # dbt Cloud's limit


def _sent(cause, task, token=None):
    """The cause our operator sends (the operators package needs Airflow; the parser does not)."""
    pytest.importorskip("airflow.providers.dbt.cloud")
    from airflow_provider_databand_dbt.operators.trigger_cause import attributed_cause
    from airflow_provider_databand_dbt.operators.trigger_token import cause_with_token, new_token

    token = token or new_token()
    cause = attributed_cause(cause, task) if task is not None else cause
    return cause_with_token(cause, token), token


# Airflow's id alphabet (letters, digits, dash, dot, underscore) plus what run ids hold (":", "+").
_IDS = st.text(alphabet="abcXYZ019-._", min_size=1, max_size=250)
_RUN_IDS = st.text(alphabet="abcXYZ019-._:+T ", min_size=1, max_size=250).filter(lambda s: s.strip() == s)
_TASKS = st.builds(
    Attribution,
    dag_id=_IDS,
    task_id=_IDS,
    airflow_run_id=st.none() | _RUN_IDS,
    map_index=st.none() | st.integers(0, 100_000),
    try_number=st.none() | st.integers(1, 1000),
)
_PROVIDER_TEXT = "Triggered via Apache Airflow by task 'load' in the sales DAG."
_OPENLINEAGE = {
    "parent": {
        "run": {"runId": "01938f5e-6c1d-7bb8-a2c5-0d4e5f6a7b8c"},
        "job": {"namespace": "default", "name": "sales.daily.grp.load"},
    },
    "root": {
        "run": {"runId": "01938f5e-6c1d-7bb8-a2c5-0d4e5f6a7b8d"},
        "job": {"namespace": "default", "name": "sales.daily"},
    },
}


def test_the_providers_default_text():
    found = attribution_from_cause(_PROVIDER_TEXT)
    assert (found.dag_id, found.task_id, found.airflow_run_id, found.origin) == ("sales", "load", None, "provider")


def test_the_providers_openlineage_json_split_at_the_root_dag():
    found = attribution_from_cause(json.dumps(_OPENLINEAGE))
    assert (found.dag_id, found.task_id, found.origin) == ("sales.daily", "grp.load", "openlineage")
    parent_only = attribution_from_cause(json.dumps({"parent": _OPENLINEAGE["parent"]}))
    assert (parent_only.dag_id, parent_only.task_id) == ("sales", "daily.grp.load")


def test_ours_in_text_and_json_with_the_token():
    task = Attribution(
        dag_id="sales",
        task_id="grp.load",
        airflow_run_id="manual__2026-12-06T10:00:00+00:00",
        map_index=3,
        try_number=2,
    )
    for cause in (None, _PROVIDER_TEXT, json.dumps({"parent": {"job": {"name": "sales.grp.load"}}})):
        sent, token = _sent(cause, task)
        assert token in sent and len(sent) <= CAUSE_MAX_CHARS
        assert attribution_from_cause(sent) == task


def test_a_long_openlineage_cause_keeps_its_json_and_drops_our_fields():
    cause = json.dumps(_OPENLINEAGE, separators=(",", ":"))
    task = Attribution(dag_id="sales.daily", task_id="grp.load", airflow_run_id="scheduled__" + "x" * 60)
    sent, _token = _sent(cause, task)
    data = json.loads(sent)
    assert data["parent"] == _OPENLINEAGE["parent"]
    found = attribution_from_cause(sent)
    assert (found.dag_id, found.task_id) == ("sales.daily", "grp.load")


def test_a_long_openlineage_cause_stays_json_when_the_token_needs_room():
    """The provider writes up to 255 characters of parent + root; the token takes the root's place."""
    cause = json.dumps(_OPENLINEAGE, separators=(",", ":"))
    sent, token = _sent(cause, None)
    data = json.loads(sent)
    assert data["parent"] == _OPENLINEAGE["parent"] and data["databand_dbt_token"] == token


@pytest.mark.parametrize(
    "cause",
    [
        None,
        "",
        42,
        b"bytes",
        "{",
        "[]",
        "{}",
        "null",
        '{"parent": 1}',
        '{"parent": {"job": {"name": 7}}}',
        '{"airflow": {"dag": ["x"], "task": {}}}',
        '{"airflow": {"dag": "d", "task": "t", "map": true, "try": -1}}',
        "[airflow dag=&task=]",
        "[airflow dag=%ZZ&task=%00]",
        "[airflow map=1]",
        "x" * 200_000,
        "{" * 10_000,
        '{"a":' * 5000 + "1" + "}" * 5000,
        "\udcff[airflow dag=a&task=b]",
        "Triggered via Apache Airflow by task '' in the  DAG.",
    ],
)
def test_junk_is_not_attributed_and_never_raises(cause):
    found = attribution_from_cause(cause)
    assert found is None or (found.dag_id and found.task_id)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.text(max_size=600)
    | st.from_regex(r"\[airflow [a-z=&%0-9]*\]", fullmatch=False)
    | st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=20),
        lambda inner: (
            st.lists(inner, max_size=4)
            | st.dictionaries(
                st.sampled_from(["parent", "root", "job", "name", "airflow", "dag", "task", "map", "try"])
                | st.text(max_size=5),
                inner,
                max_size=4,
            )
        ),
    ).map(json.dumps)
)
def test_hostile_causes_never_raise(cause):
    found = attribution_from_cause(cause)
    if found is not None:
        assert 0 < len(found.dag_id) <= 250 and 0 < len(found.task_id) <= 250
        assert found.map_index is None or found.map_index >= 0


@settings(max_examples=200, deadline=None)
@given(_TASKS, st.none() | st.text(max_size=300) | st.just(json.dumps(_OPENLINEAGE)))
def test_any_task_fits_the_cap_keeps_the_token_and_reads_back(task, cause):
    sent, token = _sent(cause, task)
    assert token in sent and len(sent) <= CAUSE_MAX_CHARS
    found = attribution_from_cause(sent)
    if found is not None and found.origin == "databand-dbt":
        # Degraded from the end: what is there is right, only later fields may be missing.
        assert (found.dag_id, found.task_id) == (task.dag_id, task.task_id)
        for name in ("airflow_run_id", "map_index", "try_number"):
            assert getattr(found, name) in (None, getattr(task, name))


def test_short_ids_always_fit_whole():
    task = Attribution(dag_id="d" * 50, task_id="t" * 50, airflow_run_id="r" * 50, map_index=7, try_number=3)
    sent, _token = _sent("x" * 255, task)
    assert attribution_from_cause(sent) == task


def test_airflow_3_links_are_url_encoded():
    task = Attribution(dag_id="a/b", task_id="grp.t", airflow_run_id="manual__2026-12-06T10:00:00+00:00", map_index=0)
    assert airflow_task_url("http://af:8080/", task) == (
        "http://af:8080/dags/a%2Fb/runs/manual__2026-12-06T10%3A00%3A00%2B00%3A00/tasks/grp.t/mapped/0"
    )
    assert airflow_task_url(None, task) is None
    unknown_run = Attribution(dag_id="d", task_id="t")
    assert airflow_task_url("http://af", unknown_run) == "http://af/dags/d/tasks/t"
