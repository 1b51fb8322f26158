"""Runs from different dbt Cloud hosts are told apart: real emulators on different ports, one real store."""

from __future__ import annotations

import json

import pytest
from cli_run import collect_args, databand_dbt

from airflow_provider_databand_dbt.testing import emulator as emu
from airflow_provider_databand_dbt.testing.emulator import DbtCloudEmulator

RUN_ID = 70403110000999


@pytest.fixture()
def two_hosts(tracking_url):
    """The same run id collected from two emulators (two hosts), as after repeated demos."""
    hosts = []
    with DbtCloudEmulator() as first, DbtCloudEmulator() as second:
        for emulator, status in ((first, "error"), (second, "success")):
            emulator.add_run(emu.DEMO_ACCOUNT_ID, emu.NIGHTLY_JOB_ID, run_id=RUN_ID, status=status)
            result = databand_dbt(*collect_args(emulator, RUN_ID), tracking_url=tracking_url)
            assert result.returncode == 0, result.stderr
            hosts.append(emulator.url.removeprefix("http://"))
    return tracking_url, hosts


def test_runs_shows_the_host_when_the_store_holds_several(two_hosts):
    url, hosts = two_hosts
    out = databand_dbt("runs", tracking_url=url).stdout
    pipelines, runs = out.split("Recent runs")
    assert pipelines.splitlines()[1].split()[0] == "host"
    assert runs.splitlines()[1].split()[:2] == ["host", "run"]
    for host in hosts:
        assert any(line.startswith(host) and "Nightly build" in line for line in pipelines.splitlines())
        assert any(line.startswith(f"{host}  {RUN_ID}") for line in runs.splitlines())


def test_runs_has_no_host_column_for_one_host(emulator, sqlite_url):
    run_id = emulator.add_run(emu.DEMO_ACCOUNT_ID, emu.NIGHTLY_JOB_ID, status="error")
    assert databand_dbt(*collect_args(emulator, run_id), tracking_url=sqlite_url).returncode == 0
    out = databand_dbt("runs", tracking_url=sqlite_url).stdout
    assert "host" not in out.splitlines()[1] and "127.0.0.1" not in out


def test_show_refuses_to_choose_between_hosts(two_hosts):
    url, hosts = two_hosts
    result = databand_dbt("show", str(RUN_ID), tracking_url=url)
    assert result.returncode == 2 and result.stdout == ""
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert f"run {RUN_ID} is tracked for 2 dbt Cloud hosts or accounts" in lines[0]
    assert "--host" in lines[1] and "--account-id" in lines[1]
    for host, status in zip(hosts, ("error", "success")):
        assert any(line.split()[:2] == [host, str(emu.DEMO_ACCOUNT_ID)] and status in line for line in lines[2:])
    # --json refuses too: a script must not get one of them by chance.
    assert databand_dbt("show", str(RUN_ID), "--json", tracking_url=url).returncode == 2


def test_host_accepts_every_form_the_project_prints(two_hosts):
    url, hosts = two_hosts
    forms = ["{host}", "http://{host}", "http://{host}/", " HTTP://{host} "]
    for (host, status), form in zip(zip(hosts * 2, ("error", "success") * 2), forms):
        shown = databand_dbt("show", str(RUN_ID), "--host", form.format(host=host), "--json", tracking_url=url)
        assert shown.returncode == 0, shown.stderr
        data = json.loads(shown.stdout)
        assert data["host"] == host and data["status"] == status


def test_host_that_tracked_nothing(two_hosts):
    url, _ = two_hosts
    result = databand_dbt("show", str(RUN_ID), "--host", "cloud.getdbt.com", tracking_url=url)
    assert result.returncode == 1 and f"run {RUN_ID} on cloud.getdbt.com is not in" in result.stderr


@pytest.mark.parametrize("bad", ["", "http://", "user:pw@cloud.getdbt.com", "cloud.getdbt.com/api/v2", "h:99999"])
def test_bad_host_is_a_usage_error(bad, sqlite_url):
    result = databand_dbt("show", "5", "--host", bad, tracking_url=sqlite_url)
    assert result.returncode == 2 and "expected a dbt Cloud host" in result.stderr
    assert "pw" not in result.stderr


def test_emulator_starts_do_not_reuse_run_ids():
    with DbtCloudEmulator() as first:
        first_ids = [first.add_run(emu.DEMO_ACCOUNT_ID, emu.NIGHTLY_JOB_ID) for _ in range(3)]
    with DbtCloudEmulator() as second:
        second_id = second.add_run(emu.DEMO_ACCOUNT_ID, emu.NIGHTLY_JOB_ID)
        assert second.seeded_runs == first.seeded_runs  # the documented seed stays as it was
    assert second_id > max(first_ids) > max(first.seeded_runs[emu.NIGHTLY_JOB_ID])
    assert max(first_ids) < 2**53  # JSON clients that read numbers as doubles keep them exact


def test_repeated_demos_build_one_history(sqlite_url):
    run_ids = []
    for _ in range(2):
        result = databand_dbt("demo", tracking_url=sqlite_url, timeout=180)
        assert result.returncode == 0, result.stderr
        run_ids.append(int(result.stdout.split("Triggered job 100 'Nightly build': run ")[1].split()[0]))
    assert run_ids[0] != run_ids[1]
    listed = json.loads(databand_dbt("runs", "--json", tracking_url=sqlite_url).stdout)
    assert [(p["name"], p["run_count"]) for p in listed["pipelines"]] == [("Nightly build", 2)]
    assert sorted(r["run_id"] for r in listed["runs"]) == sorted(run_ids)
    assert {r["host"] for r in listed["runs"]} == {"dbt-cloud-demo.localhost"}
    assert databand_dbt("show", str(run_ids[0]), tracking_url=sqlite_url).returncode == 0
