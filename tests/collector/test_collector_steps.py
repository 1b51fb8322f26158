"""Which step ran which dbt command, and which results file we fetch for it."""

from __future__ import annotations

import pytest

from airflow_provider_databand_dbt.collector.steps import (
    MAX_STEP_TEXT,
    manifest_step,
    plan_step,
    results_artifact,
    step_command,
)


@pytest.mark.parametrize(
    ("name", "command", "artifact"),
    [
        ("Clone git repository", None, None),
        ("Create profile from connection Snowflake", None, None),
        ("Invoke `dbt deps`", "dbt deps", None),
        ("Invoke dbt with `dbt deps`", "dbt deps", None),
        ("Invoke dbt with `dbt debug`", "dbt debug", None),
        ("Invoke `dbt build`", "dbt build", "run_results.json"),
        ("Invoke dbt with `dbt build --select tag:nightly`", "dbt build --select tag:nightly", "run_results.json"),
        ("dbt run --select x", "dbt run --select x", "run_results.json"),
        ("Invoke dbt with `dbt test`", "dbt test", "run_results.json"),
        ("Invoke dbt with `dbt seed --full-refresh`", "dbt seed --full-refresh", "run_results.json"),
        ("Invoke dbt with `dbt snapshot`", "dbt snapshot", "run_results.json"),
        ("Invoke dbt with `dbt compile`", "dbt compile", "run_results.json"),
        ("Invoke dbt with `dbt docs generate`", "dbt docs generate", "run_results.json"),
        ("Invoke dbt with `dbt docs serve`", "dbt docs serve", None),
        (
            "Invoke dbt with `dbt run-operation grant --args '{a: 1}'`",
            "dbt run-operation grant --args '{a: 1}'",
            "run_results.json",
        ),
        ("Invoke dbt with `dbt retry`", "dbt retry", "run_results.json"),
        ("Invoke dbt with `dbt clone --state x`", "dbt clone --state x", "run_results.json"),
        ("Invoke `dbt source freshness`", "dbt source freshness", "sources.json"),
        ("Invoke dbt with `dbt source snapshot-freshness`", "dbt source snapshot-freshness", "sources.json"),
        ("Invoke dbt with `dbt --warn-error build`", "dbt --warn-error build", "run_results.json"),
        (
            "Invoke dbt run-operation stage_external_sources",
            "dbt run-operation stage_external_sources",
            "run_results.json",
        ),
        ("Invoke dbt with something else", None, None),
    ],
)
def test_command_and_results_artifact_from_step_name(name, command, artifact):
    assert step_command(name) == command
    assert results_artifact(step_command(name)) == artifact


def test_command_falls_back_to_the_execute_step_the_name_mentions():
    execute_steps = ["dbt seed", "dbt build --exclude tag:slow", "dbt build"]
    assert step_command("Run dbt build --exclude tag:slow (custom)", execute_steps) == "dbt build --exclude tag:slow"


def test_unbalanced_quotes_do_not_break_parsing():
    assert results_artifact("dbt run --vars '{x: 1}") == "run_results.json"


def test_manifest_comes_from_the_last_finished_step_with_results():
    plans = [
        plan_step(1, "Clone git repository", True),
        plan_step(2, "Invoke `dbt source freshness`", True),
        plan_step(3, "Invoke `dbt build`", True),
        plan_step(4, "Invoke `dbt deps`", True),
        plan_step(5, "Invoke `dbt test`", False),
    ]
    assert [p.fetches_results for p in plans] == [False, True, True, False, False]
    assert manifest_step(plans) == 3
    assert manifest_step(plans[:1]) is None


@pytest.mark.parametrize(
    "name",
    [
        "x" + " -dbt" * 200_000,  # each word starts a candidate followed by a long run of flags
        "Invoke " + "dbt " * 250_000,
        "`dbt " + "a " * 500_000,
        "x" * 1_000_000,
    ],
)
def test_a_one_megabyte_step_name_parses_fast_and_is_kept_bounded(name):
    import time

    started = time.process_time()
    plan = plan_step(1, name, True, ["dbt build"])
    assert time.process_time() - started < 0.5
    assert plan.command is None or len(plan.command) <= MAX_STEP_TEXT


def test_inline_command_after_flags_and_word_boundaries():
    assert step_command("Run dbt --warn-error -x build now") == "dbt --warn-error -x build now"
    assert step_command("x -dbt run it") == "dbt run it"
    assert step_command("my_dbt run") is None
    assert step_command("Run dbt runner") is None
    assert step_command("Run DBT RUN-OPERATION x") == "DBT RUN-OPERATION x"
    assert step_command("Run dbt run-operation") == "dbt run-operation"
    assert step_command("Run dbt -x -y") is None
