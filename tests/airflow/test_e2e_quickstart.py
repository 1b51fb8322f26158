"""The README's Airflow quick start, step by step, as real subprocesses in a temp AIRFLOW_HOME.

``databand-dbt emulator`` (its printed ``export`` lines applied, as a user pastes them),
``airflow db migrate``, ``airflow connections add dbt_cloud_default ...`` (a connection in the
metadata DB, not an ``AIRFLOW_CONN_*`` variable), example DAGs copied into the DAGs folder,
``airflow dags test`` for each, then ``databand-dbt runs`` reading the default store under
$AIRFLOW_HOME.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest

pytest.importorskip("airflow")

from airflow_processes import BIN, AirflowHome, free_port

from airflow_provider_databand_dbt.testing.emulator import DEMO_ACCOUNT_ID, DEMO_TOKEN

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = ("example_dbt_cloud_run_and_track", "example_dbt_cloud_track_then_sense")
EXPORT = re.compile(r"^export (DBT_CLOUD_\w+)=(\S+)", re.MULTILINE)
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d+)?")
DEFAULT_CHECK_INTERVAL = 30


def _start_emulator(port: int) -> tuple[subprocess.Popen, str]:
    """``databand-dbt emulator --port PORT`` with its default (quick start) run lifecycle; returns its banner."""
    process = subprocess.Popen(
        [sys.executable, "-m", "airflow_provider_databand_dbt.cli", "emulator", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    banner = []
    for line in process.stdout:
        banner.append(line)
        if "Ctrl+C to stop" in line:
            return process, "".join(banner)
    raise AssertionError(f"the emulator did not start:\n{''.join(banner)}")


@pytest.fixture(scope="module")
def quickstart(tmp_path_factory):
    root = tmp_path_factory.mktemp("quickstart")
    port = free_port()
    emulator, banner = _start_emulator(port)
    dags = root / "airflow" / "dags"
    dags.mkdir(parents=True)
    for name in EXAMPLES:
        shutil.copy(REPO / "example_dags" / f"{name}.py", dags)
    exports = dict(EXPORT.findall(banner))  # what the user pastes from the emulator's banner
    home = AirflowHome(root, dags, exports)
    try:
        home.setup(emulator_url=f"http://127.0.0.1:{port}", account_id=DEMO_ACCOUNT_ID, token=DEMO_TOKEN)
        yield {"home": home, "exports": exports}
    finally:
        emulator.terminate()
        emulator.wait(timeout=30)
        emulator.stdout.close()


def _dags_test(home: AirflowHome, dag_id: str) -> str:
    done = home.cli("dags", "test", dag_id, timeout=240, check=False)
    output = done.stdout + done.stderr
    assert done.returncode == 0 and "isn't defined" not in output, output[-4000:]
    assert re.search(rf"DagRun Finished: dag_id={dag_id}.*state=success", output), output[-4000:]
    return output


def _status_check_times(output: str, run_id: str) -> list[datetime]:
    times = []
    for line in output.splitlines():
        if f"Getting the status of job run {run_id}" in line:
            stamp = TIMESTAMP.search(line).group(0).replace(",", ".").replace(" ", "T")
            times.append(datetime.fromisoformat(stamp[:26]))
    return times


def test_the_emulator_banner_tells_the_example_dags_to_poll_fast(quickstart):
    assert int(quickstart["exports"]["DBT_CLOUD_CHECK_INTERVAL"]) < DEFAULT_CHECK_INTERVAL


def test_run_and_track_with_the_readme_connection_polls_at_the_quickstart_interval(quickstart):
    started = time.monotonic()
    output = _dags_test(quickstart["home"], "example_dbt_cloud_run_and_track")
    elapsed = time.monotonic() - started

    tracked = re.search(r"Tracked dbt Cloud run (\d+): success.*", output)
    run_id = tracked.group(1)
    assert f"report: http://127.0.0.1:8788/runs/{run_id} (start the web view with `databand-dbt ui`" in tracked.group(0)
    checks = _status_check_times(output, run_id)
    gaps = [(later - earlier).total_seconds() for earlier, later in zip(checks, checks[1:])]
    assert gaps and max(gaps) < DEFAULT_CHECK_INTERVAL / 2, gaps
    print(f"\nquick start run: {len(checks)} status checks, waited {sum(gaps):.0f}s, dags test {elapsed:.0f}s")


def test_deferrable_sensor_with_the_readme_connection(quickstart):
    """The trigger, run in-process by ``dags test``, finds a connection that lives only in the metadata DB."""
    output = _dags_test(quickstart["home"], "example_dbt_cloud_track_then_sense")

    assert "running trigger in line" in output or "Trigger" in output
    run_ids = set(re.findall(r"Tracked dbt Cloud run (\d+): ", output))
    assert len(run_ids) == 1 and re.search(r"Tracked dbt Cloud run \d+: success", output)


def test_databand_dbt_runs_reads_the_default_store_under_airflow_home(quickstart):
    home = quickstart["home"]
    listed = subprocess.run(
        [str(BIN / "databand-dbt"), "runs"], env=home.env, capture_output=True, text=True, timeout=60, check=True
    )
    assert (home.root / "airflow" / "databand_dbt" / "tracking.db").exists()
    assert "Hourly models" in listed.stdout, listed.stdout
