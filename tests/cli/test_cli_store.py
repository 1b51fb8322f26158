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


@pytest.mark.parametrize("command", [["runs"], ["show", "42"], ["runs", "--json"]])
def test_read_commands_never_create_a_sqlite_store(command, tmp_path):
    mistyped = tmp_path / "trackng.db"
    result = databand_dbt(*command, tracking_url=f"sqlite:///{mistyped}")
    message = one_line_error(result, 1)
    assert str(mistyped) in message and "does not exist" in message
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
    "folder_too, clean", [(True, True), (True, False), (False, True)],
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
        message = one_line_error(databand_dbt(*collect_args(emulator, run_id), tracking_url=url,
                                              prefix=no_write_prefix), 1)
        assert "read-only" in message
    assert path.read_bytes() == before


def test_ui_serves_a_store_the_user_cannot_write(collected, no_write_prefix):
    url, run_id = collected
    path = Path(url.removeprefix("sqlite:///"))
    closed_cleanly(path)
    port = free_port()
    with read_only(path, folder_too=True):
        proc = subprocess.Popen(
            [*no_write_prefix, *CLI, "ui", "--port", str(port)], env=cli_env(tracking_url=url),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
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
def test_postgres_problems_keep_postgres_advice(tracking_url):
    if not tracking_url.startswith("postgresql"):
        pytest.skip("PostgreSQL only")
    import sqlalchemy as sa

    wrong_db = sa.engine.make_url(tracking_url).set(database="no_such_database_for_cli").render_as_string(False)
    message = one_line_error(databand_dbt("runs", tracking_url=wrong_db), 1)
    assert "user and password" in message


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
