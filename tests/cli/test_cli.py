"""The ``databand-dbt`` command as a user runs it: a real subprocess against the emulator and a real store."""

from __future__ import annotations

import json
import stat

import pytest
from cli_run import collect_args, databand_dbt, free_port, one_line_error

from airflow_provider_databand_dbt.testing.emulator import DEMO_ACCOUNT_ID, DEMO_TOKEN
from airflow_provider_databand_dbt.tracking.store import TrackingStore

NIGHTLY_JOB = 100
HEALTHY_JOB = 101


@pytest.fixture()
def nightly_run(emulator) -> int:
    return emulator.add_run(DEMO_ACCOUNT_ID, NIGHTLY_JOB, status="error")


def test_collect_then_show_and_runs(emulator, nightly_run, sqlite_url):
    collected = databand_dbt(*collect_args(emulator, nightly_run), tracking_url=sqlite_url)
    assert collected.returncode == 0, collected.stderr
    assert f"Run {nightly_run}  ERROR  Nightly build" in collected.stdout
    assert "customer_ltv_forecast" in collected.stdout  # the model that errored
    assert "step 5/5" in collected.stderr or "dbt build" in collected.stderr  # progress went to stderr

    shown = databand_dbt("show", str(nightly_run), tracking_url=sqlite_url)
    assert shown.returncode == 0, shown.stderr
    node_lines = [
        line
        for line in shown.stdout.split("Nodes (failures first)")[1].strip().splitlines()[1:]
        if not line.startswith(" ")
    ]  # whole messages are indented under their node
    statuses = [line.split()[0] for line in node_lines]
    assert statuses[0] == "error" and "skipped" in statuses and "fail" in statuses
    assert statuses.index("fail") < statuses.index("warn") < statuses.index("skipped") < statuses.index("success")
    assert "tracked by: cli databand-dbt collect" in shown.stdout

    as_json = json.loads(databand_dbt("show", str(nightly_run), "--json", tracking_url=sqlite_url).stdout)
    assert as_json["run_id"] == nightly_run and as_json["status"] == "error"
    assert as_json["summary"]["skipped"] == 2 and as_json["summary"]["fail"] == 1
    assert [s["kind"] for s in as_json["sources"]] == ["cli"]

    listed = databand_dbt("runs", tracking_url=sqlite_url)
    assert listed.returncode == 0, listed.stderr
    assert "Nightly build" in listed.stdout and str(nightly_run) in listed.stdout
    filtered = json.loads(databand_dbt("runs", "--status", "success", "--json", tracking_url=sqlite_url).stdout)
    assert filtered["runs"] == []


def test_collect_json_without_store(emulator, sqlite_url):
    run_id = emulator.add_run(DEMO_ACCOUNT_ID, HEALTHY_JOB, status="success")
    result = databand_dbt(*collect_args(emulator, run_id, "--no-store", "--json"), tracking_url=sqlite_url)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["status"] == "success" and report["job_name"] == "Hourly models"
    assert set(report["summary"]) <= {"success", "pass"}
    assert databand_dbt("show", str(run_id), tracking_url=sqlite_url).returncode == 1  # nothing was stored


def test_token_from_file(emulator, nightly_run, sqlite_url, tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text(DEMO_TOKEN + "\n")
    result = databand_dbt(
        *collect_args(emulator, nightly_run, "--token-file", str(token_file)), token=None, tracking_url=sqlite_url
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    "args, code, expected",
    [
        (["collect", "--account-id", "abc", "--run-id", "1"], 2, "positive integer"),
        (["collect", "--account-id", "1", "--run-id", "-5"], 2, "positive integer"),
        (["show", "not-a-number"], 2, "positive integer"),
        (["show", "+7"], 2, "positive integer"),
        (["show", DEMO_TOKEN], 2, f"got a {len(DEMO_TOKEN)}-character string"),
        (["collect", "--account-id", "1", "--run-id", "1", "--api-url", "https://cloud.getdbt.com/api/v2"], 2, "path"),
    ],
)
def test_bad_input_is_a_usage_error(args, code, expected, sqlite_url):
    assert expected in one_line_error(databand_dbt(*args, tracking_url=sqlite_url), code)


def test_missing_token(emulator, nightly_run, sqlite_url):
    message = one_line_error(databand_dbt(*collect_args(emulator, nightly_run), token=None, tracking_url=sqlite_url), 2)
    assert "DBT_CLOUD_API_TOKEN" in message


def test_wrong_token(emulator, nightly_run, sqlite_url):
    bad = "dbtc_wrong_token_for_cli_test"
    result = databand_dbt(*collect_args(emulator, nightly_run), token=bad, tracking_url=sqlite_url)
    message = one_line_error(result, 1)
    assert "token" in message.lower()
    assert bad not in result.stdout + result.stderr


def test_unknown_run(emulator, sqlite_url):
    message = one_line_error(databand_dbt(*collect_args(emulator, 123456789), tracking_url=sqlite_url), 1)
    assert "123456789" in message and "not found" in message


def test_unreachable_host(sqlite_url):
    args = ["collect", "--account-id", "1", "--run-id", "1", "--api-url", f"http://127.0.0.1:{free_port()}"]
    message = one_line_error(databand_dbt(*args, tracking_url=sqlite_url, timeout=300), 1)
    assert "127.0.0.1" in message


def test_show_untracked_run(sqlite_url):
    TrackingStore(sqlite_url).close()
    message = one_line_error(databand_dbt("show", "42", tracking_url=sqlite_url), 1)
    assert "42" in message and "collect" in message


@pytest.mark.parametrize("url", ["nosuchdialect://x", "not a url", "sqlite:////nonexistent-dir/sub/tracking.db"])
def test_unusable_store_url(url):
    message = one_line_error(databand_dbt("runs", tracking_url=url), 1)
    assert "tracking store" in message.lower() or "store" in message.lower()


def test_read_only_store_cannot_collect(emulator, nightly_run, tmp_path):
    path = tmp_path / "ro.db"
    TrackingStore(f"sqlite:///{path}").close()
    path.chmod(stat.S_IRUSR)
    # mode=ro makes SQLite itself refuse writes, which holds even for root (CI runs as root).
    read_only = f"sqlite:///file:{path}?mode=ro&uri=true"
    assert databand_dbt("runs", tracking_url=read_only).returncode == 0  # reading still works
    message = one_line_error(databand_dbt(*collect_args(emulator, nightly_run), tracking_url=read_only), 1)
    assert "read-only" in message or "readonly" in message


def test_demo_end_to_end(sqlite_url):
    result = databand_dbt("demo", tracking_url=sqlite_url, timeout=180)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "ERROR  Nightly build" in out
    assert "assert_revenue_by_payment_method_is_positive" in out  # the failing test
    assert "marketing_segments" in out  # the model skipped because its parent errored
    run_id = int(out.split("Triggered job 100 'Nightly build': run ")[1].split()[0])
    shown = json.loads(databand_dbt("show", str(run_id), "--json", tracking_url=sqlite_url).stdout)
    assert shown["status"] == "error" and shown["summary"]["skipped"] == 2
