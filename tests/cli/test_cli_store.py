"""Which store the CLI reads, and reading it without creating or writing anything: real subprocesses, real stores."""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from cli_run import CLI, cannot_write_prefix, cli_env, collect_args, databand_dbt, free_port, one_line_error
from required_services import needs_extra

from airflow_provider_databand_dbt.testing.emulator import DEMO_ACCOUNT_ID, NIGHTLY_JOB_ID
from airflow_provider_databand_dbt.tracking.store import TrackingStore


@pytest.fixture()
def collected(emulator, sqlite_url) -> tuple[str, int]:
    """A SQLite store (WAL mode) holding one collected run, written by the CLI."""
    run_id = emulator.add_run(DEMO_ACCOUNT_ID, NIGHTLY_JOB_ID, status="error")
    result = databand_dbt(*collect_args(emulator, run_id), tracking_url=sqlite_url)
    assert result.returncode == 0, result.stderr
    return sqlite_url, run_id


# -- read commands never create a store ----------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [["runs"], ["show", "42"], ["runs", "--json"], pytest.param(["ui", "--port", "0"], marks=needs_extra("ui"))],
)
def test_read_commands_never_create_a_sqlite_store(command, tmp_path):
    if command[0] == "ui":
        command = ["ui", "--port", str(free_port())]
    mistyped = tmp_path / "trackng.db"
    result = databand_dbt(*command, tracking_url=f"sqlite:///{mistyped}")
    message = one_line_error(result, 1)
    assert str(mistyped) in message and "does not exist" in message
    if command[0] != "ui":  # ui opens the store through the web view's handle (h-web's)
        assert "chosen: set by $DATABAND_DBT_TRACKING_URL" in message
    assert not mistyped.exists() and list(tmp_path.iterdir()) == []


def test_read_commands_never_create_the_default_store(tmp_path):
    env = cli_env(tracking_url=None, HOME=str(tmp_path), AIRFLOW_HOME=None, DATABAND_DBT_TRACKING_URL=None)
    message = one_line_error(databand_dbt("runs", env=env), 1)
    assert str(tmp_path / ".databand_dbt" / "tracking.db") in message
    assert "default ~/.databand_dbt" in message
    assert not (tmp_path / ".databand_dbt").exists()


@pytest.mark.postgres
def test_read_commands_never_create_a_postgres_store(tracking_url):
    if not tracking_url.startswith("postgresql"):
        pytest.skip("the SQLite case is above")
    message = one_line_error(databand_dbt("runs", tracking_url=tracking_url), 1)
    assert "has no tables yet" in message
    import sqlalchemy as sa

    engine = sa.create_engine(tracking_url)
    try:
        assert sa.inspect(engine).get_table_names() == []
    finally:
        engine.dispose()


def test_read_commands_read_both_backends(tracking_url, emulator):
    run_id = emulator.add_run(DEMO_ACCOUNT_ID, NIGHTLY_JOB_ID, status="error")
    assert databand_dbt(*collect_args(emulator, run_id), tracking_url=tracking_url).returncode == 0
    listed = json.loads(databand_dbt("runs", "--json", tracking_url=tracking_url).stdout)
    assert [r["run_id"] for r in listed["runs"]] == [run_id]
    assert json.loads(databand_dbt("show", str(run_id), "--json", tracking_url=tracking_url).stdout)["run_id"] == run_id


# -- a store the user cannot write ---------------------------------------------------------------------


@contextlib.contextmanager
def read_only(path: Path, folder_too: bool):
    """The store file (and optionally its folder) without write permission, restored afterwards."""
    path.chmod(0o444)
    if folder_too:
        path.parent.chmod(0o555)
    try:
        yield
    finally:
        path.parent.chmod(0o755)
        path.chmod(0o644)


@pytest.fixture()
def no_write_prefix() -> list[str]:
    prefix = cannot_write_prefix()
    if prefix is None:
        pytest.skip("running as root without setpriv: cannot drop the power to write")
    return prefix


def closed_cleanly(path: Path) -> None:
    """Close the last connection, as a writer that stopped normally does: SQLite removes -wal and -shm."""
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()
    assert not Path(f"{path}-shm").exists() and not Path(f"{path}-wal").exists()


@pytest.mark.parametrize(
    "folder_too, clean",
    [(True, True), (True, False), (False, True)],
    ids=["read-only-folder", "read-only-folder-with-wal-files", "read-only-file"],
)
def test_a_store_the_user_cannot_write_can_be_read(collected, emulator, no_write_prefix, folder_too, clean):
    url, run_id = collected
    path = Path(url.removeprefix("sqlite:///"))
    if clean:
        closed_cleanly(path)
    before = path.read_bytes()
    with read_only(path, folder_too):
        runs = databand_dbt("runs", tracking_url=url, prefix=no_write_prefix)
        assert runs.returncode == 0, runs.stderr
        assert str(run_id) in runs.stdout and "Nightly build" in runs.stdout
        shown = databand_dbt("show", str(run_id), tracking_url=url, prefix=no_write_prefix)
        assert shown.returncode == 0, shown.stderr
        assert "customer_ltv_forecast" in shown.stdout
        assert "readonly" not in runs.stderr + shown.stderr
        # Writing still fails, with one clear line.
        message = one_line_error(
            databand_dbt(*collect_args(emulator, run_id), tracking_url=url, prefix=no_write_prefix), 1
        )
        assert "read-only" in message
    assert path.read_bytes() == before


@needs_extra("ui")
def test_ui_serves_a_store_the_user_cannot_write(collected, no_write_prefix):
    url, run_id = collected
    path = Path(url.removeprefix("sqlite:///"))
    closed_cleanly(path)
    port = free_port()
    with read_only(path, folder_too=True):
        proc = subprocess.Popen(
            [*no_write_prefix, *CLI, "ui", "--port", str(port)],
            env=cli_env(tracking_url=url),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            body = _get_json(f"http://127.0.0.1:{port}/api/runs/{run_id}", proc)
            assert body["run_id"] == run_id and body["status"] == "error"
        finally:
            proc.terminate()
            _, err = proc.communicate(timeout=30)
        assert "readonly" not in err, err


def _get_json(url: str, proc: subprocess.Popen, timeout: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        assert proc.poll() is None, proc.communicate()
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                return json.loads(response.read())
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_sqlite_problems_get_sqlite_advice(tmp_path):
    path = tmp_path / "tracking.db"
    path.write_text("this is not a database\n" * 100)
    for command in (["runs"], ["show", "5"], *([["collect", "--account-id", "1", "--run-id", "1"]])):
        message = one_line_error(databand_dbt(*command, tracking_url=f"sqlite:///{path}"), 1)
        assert "file is not a database" in message and "is a tracking store" in message, message
        assert "password" not in message and "running and reachable" not in message


@pytest.mark.postgres
def test_postgres_problems_keep_postgres_advice(tracking_url, emulator):
    if not tracking_url.startswith("postgresql"):
        pytest.skip("PostgreSQL only")
    import sqlalchemy as sa

    wrong_db = sa.engine.make_url(tracking_url).set(database="no_such_database_for_cli").render_as_string(False)
    message = one_line_error(databand_dbt("runs", tracking_url=wrong_db), 1)
    assert "user and password" in message
    # A database that refuses writes (as a standby does): advice about servers and users, not files.
    TrackingStore(tracking_url).close()
    name = sa.engine.make_url(tracking_url).database
    admin = sa.create_engine(tracking_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on'))
    admin.dispose()
    run_id = emulator.add_run(DEMO_ACCOUNT_ID, NIGHTLY_JOB_ID, status="error")
    message = one_line_error(databand_dbt(*collect_args(emulator, run_id), tracking_url=tracking_url), 1)
    assert "read-only" in message and "standby" in message and "file" not in message


def test_tracking_store_read_only_api(collected, tmp_path):
    """The opening h-web's view uses: ``TrackingStore(url, read_only=True)`` reads and never writes."""
    url, run_id = collected
    with TrackingStore(url, read_only=True) as store:
        assert store.read_only and store.get_report(run_id).run_id == run_id
    missing = f"sqlite:///{tmp_path / 'nothing-here.db'}"
    from airflow_provider_databand_dbt.tracking.errors import TrackingStoreMissing

    with pytest.raises(TrackingStoreMissing):
        TrackingStore(missing, read_only=True)
    assert not os.path.exists(tmp_path / "nothing-here.db")


# -- which store, and why ------------------------------------------------------------------------------

SECRET_URL = "postgresql+psycopg://tracker:s3cret-pw@127.0.0.1:1/tracking"
SHOWN_URL = "postgresql+psycopg://tracker:***@127.0.0.1:1/tracking"


def flat(text: str) -> str:
    return " ".join(text.split())  # argparse wraps help lines


@pytest.mark.parametrize("command", [[], ["collect"], ["runs"], ["show"], ["ui"], ["demo"], ["monitor"], ["info"]])
def test_every_help_names_the_store_in_use_and_why(command):
    result = databand_dbt(*command, "--help", tracking_url=SECRET_URL)
    assert result.returncode == 0, result.stderr
    text = flat(result.stdout)
    assert f"{SHOWN_URL} (set by $DATABAND_DBT_TRACKING_URL)" in text
    assert "s3cret" not in result.stdout
    assert "$AIRFLOW_HOME/databand_dbt/tracking.db when AIRFLOW_HOME is set" in text  # the precedence


def test_default_store_under_airflow_home_says_so(tmp_path):
    env = cli_env(HOME=str(tmp_path / "home"), AIRFLOW_HOME=str(tmp_path / "airflow"), DATABAND_DBT_TRACKING_URL=None)
    result = databand_dbt("--version", env=env)
    assert result.returncode == 0
    version, store = result.stdout.splitlines()
    assert version.startswith("databand-dbt ")
    assert store == (
        f"tracking store: sqlite:///{tmp_path / 'airflow' / 'databand_dbt' / 'tracking.db'} "
        f"(default under $AIRFLOW_HOME={tmp_path / 'airflow'}: neither $DATABAND_DBT_TRACKING_URL "
        "nor $AIRFLOW__DATABAND_DBT__TRACKING_URL is set)"
    )
    assert not (tmp_path / "airflow").exists()


def test_info_points_at_airflows_store_from_a_shell_without_airflow_home(tmp_path, emulator):
    """The newcomer's case: Airflow tracked into ~/airflow/databand_dbt, the shell reads ~/.databand_dbt."""
    home = tmp_path / "home"
    airflow_store = home / "airflow" / "databand_dbt" / "tracking.db"
    airflow_store.parent.mkdir(parents=True)
    run_id = emulator.add_run(DEMO_ACCOUNT_ID, NIGHTLY_JOB_ID, status="error")
    assert databand_dbt(*collect_args(emulator, run_id), tracking_url=f"sqlite:///{airflow_store}").returncode == 0
    env = cli_env(HOME=str(home), AIRFLOW_HOME=None, DATABAND_DBT_TRACKING_URL=None)
    result = databand_dbt("info", env=env)
    assert result.returncode == 0, result.stderr
    assert f"tracking store: sqlite:///{home / '.databand_dbt' / 'tracking.db'}" in result.stdout
    assert "chosen by: default ~/.databand_dbt: none of" in result.stdout
    assert "state: not created yet" in result.stdout
    assert f"note: another store exists at {airflow_store}" in result.stdout
    assert not (home / ".databand_dbt").exists()
    data = json.loads(databand_dbt("info", "--json", "--tracking-url", f"sqlite:///{airflow_store}", env=env).stdout)
    assert data["tracking_store"]["chosen_by"] == "set by --tracking-url"
    assert data["tracking_store"]["state"] == "1 pipeline(s), 1 run(s)"


def monitor_config(tmp_path, emulator, tracking_url: str | None) -> Path:
    config = tmp_path / ("monitor.cfg" if tracking_url else "monitor-without-store.cfg")
    config.write_text(
        "[dbt_monitor]\nprometheus_port = 0\ninterval = 0.3\nlease_seconds = 0\nnumber_of_iterations = 1\n"
        + (f"tracking_url = {tracking_url}\n" if tracking_url else "")
        + f"\n[dbt_monitor.syncer.main]\naccount_id = {DEMO_ACCOUNT_ID}\napi_url = {emulator.url}\n"
        "api_token_env = DBT_CLOUD_API_TOKEN\n"
    )
    return config


@needs_extra("monitor")
def test_monitor_says_which_store_and_why(tmp_path, emulator, sqlite_url):
    config = monitor_config(tmp_path, emulator, sqlite_url)
    shown = sqlite_url
    checked = databand_dbt("monitor", "--config", str(config), "--check-config", tracking_url=SECRET_URL)
    assert checked.returncode == 0, checked.stderr
    assert f"tracking store: {shown} (set by tracking_url in [dbt_monitor] of {config})" in checked.stdout
    flagged = databand_dbt("monitor", "--config", str(config), "--check-config", "--tracking-url", SECRET_URL)
    assert f"tracking store: {SHOWN_URL} (set by --tracking-url)" in flagged.stdout and "s3cret" not in flagged.stdout
    env = cli_env(DBND__DBT_MONITOR__TRACKING_URL=SECRET_URL)
    from_env = databand_dbt("monitor", "--config", str(config), "--check-config", env=env)
    assert (
        f"tracking store: {SHOWN_URL} (set by environment variable DBND__DBT_MONITOR__TRACKING_URL)" in from_env.stdout
    )
    unset = databand_dbt(
        "monitor", "--config", str(monitor_config(tmp_path, emulator, None)), "--check-config", tracking_url=SECRET_URL
    )
    assert f"tracking store: {SHOWN_URL} (set by $DATABAND_DBT_TRACKING_URL)" in unset.stdout
    # The start-up log line of a real run.
    started = databand_dbt("monitor", "--config", str(config), tracking_url=SECRET_URL, timeout=180)
    assert started.returncode == 0, started.stderr
    line = next(line for line in started.stderr.splitlines() if " tracking store " in line)
    assert line.endswith(f"tracking store {shown} (set by tracking_url in [dbt_monitor] of {config})")


def test_naming_the_store_in_help_does_not_slow_every_command():
    """The store is worked out when help is printed: building the parser must not import SQLAlchemy."""
    code = (
        "import sys; from airflow_provider_databand_dbt.cli.main import build_parser; build_parser(); "
        "print('sqlalchemy' in sys.modules)"
    )
    result = subprocess.run(
        [CLI[0], "-c", code], env=cli_env(), capture_output=True, text=True, timeout=60, check=False
    )
    assert result.stdout.strip() == "False", result.stderr


def test_a_sqlite_uri_is_never_created_by_readers(tmp_path):
    path = tmp_path / "uri.db"
    result = databand_dbt("runs", tracking_url=f"sqlite:///file:{path}?uri=true")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert not path.exists()
