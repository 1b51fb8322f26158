"""Rough edges of the CLI: each gives one clear line and a documented exit code, never a traceback."""

from __future__ import annotations

import os
import subprocess

import pytest
from cli_run import CLI, cli_env, collect_args, databand_dbt, one_line_error

from airflow_provider_databand_dbt.testing import emulator as emu

TOO_BIG = "99999999999999999999"  # above 2**63 - 1


@pytest.fixture()
def collected(emulator, sqlite_url) -> int:
    run_id = emulator.add_run(emu.DEMO_ACCOUNT_ID, emu.NIGHTLY_JOB_ID, status="error")
    result = databand_dbt(*collect_args(emulator, run_id), tracking_url=sqlite_url)
    assert result.returncode == 0, result.stderr
    return run_id


@pytest.mark.parametrize("json_output", [False, True], ids=["table", "json"])
@pytest.mark.parametrize("command", ["runs", "show"])
def test_a_reader_that_closes_the_pipe_stops_the_command_quietly(collected, sqlite_url, command, json_output):
    """``databand-dbt runs | head -n 2``: the reader is gone before we write; exit 141 and nothing on stderr."""
    args = [command, *([str(collected)] if command == "show" else []), *(["--json"] if json_output else [])]
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        result = subprocess.run(
            [*CLI, *args],
            env=cli_env(tracking_url=sqlite_url),
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        os.close(write_end)
    assert result.returncode == 141, result.stderr
    assert result.stderr == ""


def test_head_reads_the_first_lines(collected, sqlite_url):
    """The pipeline users type: the first lines arrive, the pipeline succeeds without a traceback."""
    command = " ".join([*CLI, "runs"]) + " | head -n 2"
    result = subprocess.run(
        ["bash", "-c", command],
        env=cli_env(tracking_url=sqlite_url),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0 and result.stdout.splitlines()[0].startswith("Pipelines")
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["show", TOO_BIG],
        ["show", "5", "--account-id", TOO_BIG],
        ["runs", "--job-id", TOO_BIG],
        ["runs", "--limit", TOO_BIG],
        ["collect", "--account-id", "1", "--run-id", TOO_BIG, "--api-url", "http://127.0.0.1:9"],
    ],
)
def test_ids_over_64_bits_are_usage_errors(args, sqlite_url):
    message = one_line_error(databand_dbt(*args, tracking_url=sqlite_url), 2)
    assert "at most 9223372036854775807" in message


def test_the_largest_id_is_accepted(collected, sqlite_url):
    message = one_line_error(databand_dbt("show", str(2**63 - 1), tracking_url=sqlite_url), 1)
    assert "is not in the tracking store" in message
