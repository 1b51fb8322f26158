"""What the CLI prints: hostile names escaped, whole node messages, UTC times; JSON stays exact."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from cli_run import collect_args, databand_dbt
from required_services import needs_extra

from airflow_provider_databand_dbt.testing import emulator as emu
from airflow_provider_databand_dbt.testing.scenarios import ARTIFACTS_DIR

ESC = "\x1b"
# Clear the screen, set the window title, a one-character CSI (C1), a right-to-left override, and a line
# break that forges a log line.
HOSTILE_JOB = f"Nightly{ESC}[2J{ESC}]0;pwned\x07 build\x9b31m\u202e\n2026-01-01 00:00:00 ERROR forged: all runs deleted"
HOSTILE_PROJECT = f"Jaffle{ESC}[31m shop"
HOSTILE_MESSAGE = f"Runtime Error{ESC}[2J in model\r\nforged line{ESC}]0;title\x07"
FORGED = "2026-01-01 00:00:00 ERROR forged"
ERROR_MODEL = "model.tiny_shop.customer_ltv_forecast"


def assert_no_controls(text: str) -> None:
    found = set(re.findall("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]", text))
    assert not found, found
    assert not any(line.startswith(FORGED) for line in text.splitlines())


@pytest.fixture()
def hostile_run(emulator, tmp_path) -> int:
    """A run of a job, project and node message written by someone who knows terminals."""
    artifacts = tmp_path / "artifacts"
    shutil.copytree(Path(ARTIFACTS_DIR) / "nightly_build", artifacts)
    results_path = artifacts / "step_5" / "run_results.json"
    results = json.loads(results_path.read_text())
    for result in results["results"]:
        if result["unique_id"] == ERROR_MODEL:
            result["message"] = HOSTILE_MESSAGE
    results_path.write_text(json.dumps(results))
    emulator.add_project(emu.DEMO_ACCOUNT_ID, 11, HOSTILE_PROJECT)
    emulator.add_job(
        emu.DEMO_ACCOUNT_ID,
        300,
        HOSTILE_JOB,
        project_id=11,
        environment_id=emu.DEMO_ENVIRONMENT_ID,
        scenario="nightly_build",
    )
    return emulator.add_run(
        emu.DEMO_ACCOUNT_ID, 300, status="error", artifacts_dir=artifacts, git_branch=f"main{ESC}[8m"
    )


def test_names_from_dbt_cloud_are_escaped_on_the_terminal(emulator, hostile_run, sqlite_url):
    collected = databand_dbt(*collect_args(emulator, hostile_run), tracking_url=sqlite_url)
    assert collected.returncode == 0, collected.stderr
    for result in (
        collected,
        databand_dbt("show", str(hostile_run), tracking_url=sqlite_url),
        databand_dbt("runs", tracking_url=sqlite_url),
    ):
        assert result.returncode == 0, result.stderr
        assert_no_controls(result.stdout + result.stderr)
        assert "\\x1b[2J" in result.stdout  # visible, so people see what the name really holds
    shown = databand_dbt("show", str(hostile_run), tracking_url=sqlite_url).stdout
    assert "\\x9b31m\\u202e\\n2026-01-01" in shown and "main\\x1b[8m" in shown
    assert "Runtime Error\\x1b[2J in model" in shown and "forged line\\x1b]0;title\\x07" in shown


def test_json_output_stays_exact(emulator, hostile_run, sqlite_url):
    assert databand_dbt(*collect_args(emulator, hostile_run), tracking_url=sqlite_url).returncode == 0
    shown = databand_dbt("show", str(hostile_run), "--json", tracking_url=sqlite_url)
    assert_no_controls(shown.stdout)  # JSON escapes them itself ...
    data = json.loads(shown.stdout)  # ... and decodes to exactly what dbt Cloud said
    assert data["job_name"] == HOSTILE_JOB and data["project_name"] == HOSTILE_PROJECT
    messages = {n["unique_id"]: n["message"] for s in data["steps"] for n in s["nodes"]}
    assert messages[ERROR_MODEL] == HOSTILE_MESSAGE
    listed = json.loads(databand_dbt("runs", "--json", tracking_url=sqlite_url).stdout)
    assert listed["pipelines"][0]["name"] == HOSTILE_JOB


def test_show_prints_the_whole_dbt_error_with_its_caret_line(emulator, sqlite_url):
    run_id = emulator.add_run(emu.DEMO_ACCOUNT_ID, emu.NIGHTLY_JOB_ID, status="error")
    assert databand_dbt(*collect_args(emulator, run_id), tracking_url=sqlite_url).returncode == 0
    shown = databand_dbt("show", str(run_id), tracking_url=sqlite_url)
    out = shown.stdout
    # The part of the error that matters, far past 80 characters, and the caret line under the code.
    assert 'Binder Error: Referenced column "predicted_growth_rate" not found' in out
    assert '"customer_id"' in out
    code_line = next(line for line in out.splitlines() if "LINE 16:" in line)
    caret_line = out.splitlines()[out.splitlines().index(code_line) + 1]
    assert set(caret_line.strip()) == {"^"}
    assert code_line.index("predicted_growth_rate") == caret_line.index("^")
    # The column says there is more instead of cutting silently.
    row = next(line for line in out.splitlines() if line.startswith("error") and "customer_ltv_forecast" in line)
    assert row.endswith("...")


def test_times_are_labelled_utc(emulator, sqlite_url):
    run_id = emulator.add_run(emu.DEMO_ACCOUNT_ID, emu.NIGHTLY_JOB_ID, status="error")
    collected = databand_dbt(*collect_args(emulator, run_id), tracking_url=sqlite_url)
    shown = databand_dbt("show", str(run_id), tracking_url=sqlite_url).stdout
    listed = databand_dbt("runs", tracking_url=sqlite_url).stdout
    stamp = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d"
    for out in (collected.stdout, shown, listed):
        times = re.findall(stamp + "(?: UTC)?", out)
        assert times and all(t.endswith(" UTC") for t in times), times
    assert re.search(r"created: " + stamp + " UTC", shown)


@needs_extra("monitor")
@pytest.mark.parametrize("log_format", ["text", "json"])
def test_monitor_log_lines_cannot_be_forged(emulator, hostile_run, sqlite_url, tmp_path, log_format):
    config = tmp_path / "monitor.cfg"
    config.write_text(
        "[dbt_monitor]\nprometheus_port = 0\ninterval = 0.3\nlease_seconds = 0\nnumber_of_iterations = 1\n\n"
        f"[dbt_monitor.syncer.main]\naccount_id = {emu.DEMO_ACCOUNT_ID}\napi_url = {emulator.url}\n"
        "api_token_env = DBT_CLOUD_API_TOKEN\nbackfill = 1d\njob_ids = 300\n"
    )
    result = databand_dbt(
        "monitor", "--config", str(config), "--log-format", log_format, tracking_url=sqlite_url, timeout=180
    )
    assert result.returncode == 0, result.stderr
    tracked = [line for line in result.stderr.splitlines() if f"tracked run {hostile_run}" in line]
    assert len(tracked) == 1, result.stderr
    if log_format == "text":
        assert_no_controls(result.stderr)
        assert "Nightly\\x1b[2J\\x1b]0;pwned\\x07 build\\x9b31m\\u202e\\n2026-01-01 00:00:00 ERROR forged" in tracked[0]
        assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z INFO ", tracked[0])  # UTC, and says so
    else:
        records = [json.loads(line) for line in result.stderr.splitlines()]
        message = next(r["message"] for r in records if f"tracked run {hostile_run}" in r["message"])
        assert HOSTILE_JOB in message  # exact, once decoded
