"""Stores that cannot be used fail with one clear TrackingError line, never a raw SQLAlchemy traceback."""

from __future__ import annotations

import multiprocessing
import os
import shutil
import socket
import stat
import tempfile

import pytest
import sqlalchemy as sa
from report_factory import make_report
from required_services import needs_extra

from airflow_provider_databand_dbt.tracking import schema
from airflow_provider_databand_dbt.tracking.errors import TrackingError, TrackingStoreUnavailable
from airflow_provider_databand_dbt.tracking.store import TrackingStore
from airflow_provider_databand_dbt.tracking.url import SQLALCHEMY_1

NOBODY = 65534


def _unavailable(url: str) -> str:
    with pytest.raises(TrackingStoreUnavailable) as caught:
        TrackingStore(url)
    message = str(caught.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize(
    "url",
    ["not a url at all", "postgresql://alice:s3cret@db.example:notaport/tracking", "://missing-scheme"],
)
def test_unparsable_url(url):
    message = _unavailable(url)

    assert "cannot parse the tracking store URL" in message
    assert "s3cret" not in message
    assert "DATABAND_DBT_TRACKING_URL" in message


@pytest.mark.parametrize("url", ["foodb://user:s3cret@localhost/db", "mysql://user:s3cret@localhost/db"])
def test_unsupported_dialect(url):
    message = _unavailable(url)

    assert "unsupported database" in message and "SQLite or PostgreSQL" in message
    assert "s3cret" not in message and "***" in message


def test_sqlite_in_missing_directory(tmp_path):
    missing = tmp_path / "nowhere" / "tracking.db"

    message = _unavailable(f"sqlite:///{missing}")

    assert "does not exist" in message and str(missing.parent) in message
    assert not missing.parent.exists()  # an explicit URL never creates directories


def test_sqlite_path_that_is_a_directory(tmp_path):
    assert "is not a file" in _unavailable(f"sqlite:///{tmp_path}")


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@needs_extra("postgres")
def test_postgres_server_refusing_connections():
    message = _unavailable(f"postgresql://alice:s3cret@127.0.0.1:{_closed_port()}/tracking")

    # Rewritten to psycopg 3 (SQLAlchemy 1.4 has no psycopg 3 dialect: psycopg2 there), password masked.
    assert f"{'postgresql' if SQLALCHEMY_1 else 'postgresql+psycopg'}://alice:***@127.0.0.1:" in message
    assert "s3cret" not in message
    assert "Connection refused" in message and "check that the database is running" in message


def test_read_only_uri_can_read_but_not_save(sqlite_url, tmp_path):
    TrackingStore(sqlite_url).save_report(make_report())
    read_only = TrackingStore(f"sqlite:///file:{tmp_path / 'tracking.db'}?mode=ro&uri=true")

    assert read_only.read_only
    assert read_only.get_report(70001) == make_report()
    with pytest.raises(TrackingStoreUnavailable, match="read-only"):
        read_only.save_report(make_report())
    with pytest.raises(TrackingStoreUnavailable, match="read-only"):
        read_only.try_acquire_lease("prod", "me", 10)


def test_sqlalchemy_errors_are_wrapped_with_context(store):
    store.save_report(make_report())
    with store.engine.begin() as conn:
        conn.execute(sa.text(f"DROP TABLE {schema.node_results.name}"))

    with pytest.raises(TrackingError) as on_read:
        store.get_report(70001)
    with pytest.raises(TrackingError) as on_save:
        store.save_report(make_report())

    for caught in (on_read, on_save):
        assert not isinstance(caught.value, sa.exc.SQLAlchemyError)
        assert isinstance(caught.value.__cause__, sa.exc.SQLAlchemyError)  # kept for debugging
        message = str(caught.value)
        assert "\n" not in message and store.display_url in message
        assert "[SQL:" not in message
    assert "could not read run 70001" in str(on_read.value)
    assert "could not save run 70001" in str(on_save.value)


# Permission checks mean nothing to root, so as root they run in a forked child that becomes "nobody".
def _as_unprivileged(function, *args):
    if os.geteuid() != 0:
        return function(*args)
    ctx = multiprocessing.get_context("fork")
    results = ctx.Queue()
    child = ctx.Process(target=_drop_privileges_and_call, args=(results, function, args))
    child.start()
    outcome = results.get(timeout=60)
    child.join(timeout=30)
    return outcome


def _drop_privileges_and_call(results, function, args) -> None:
    try:
        os.setgid(NOBODY)
        os.setuid(NOBODY)
        results.put(function(*args))
    except BaseException as error:  # reported to the parent as data
        results.put(("child failed", type(error).__name__, str(error)))


def _open_and_use(url: str):
    """What an unprivileged user gets: ("open failed", ...) or the results of a read and a save."""
    try:
        store = TrackingStore(url)
    except TrackingError as error:
        return ("open failed", type(error).__name__, str(error))
    read = store.get_report(70001)
    try:
        store.save_report(make_report())
        saved = ("saved",)
    except TrackingError as error:
        saved = ("save failed", type(error).__name__, str(error))
    store.close()
    return ("opened", store.read_only, read == make_report(), saved)


@pytest.fixture()
def shared_dir():
    """A directory "nobody" can reach (pytest's tmp_path is private to root)."""
    base = tempfile.mkdtemp(prefix="databand-dbt-perm-")
    os.chmod(base, 0o755)
    yield base
    for root, dirs, _files in os.walk(base):
        for name in dirs:
            os.chmod(os.path.join(root, name), stat.S_IRWXU)
    shutil.rmtree(base, ignore_errors=True)


def _make_store(directory: str, dir_mode: int) -> str:
    os.makedirs(directory)
    url = f"sqlite:///{directory}/tracking.db"
    with TrackingStore(url) as store:
        store.save_report(make_report())
    os.chmod(f"{directory}/tracking.db", 0o444)
    os.chmod(directory, dir_mode)
    return url


def test_unwritable_directory_for_a_new_store(shared_dir):
    locked = os.path.join(shared_dir, "locked")
    os.makedirs(locked)
    os.chmod(locked, 0o555)

    outcome = _as_unprivileged(_open_and_use, f"sqlite:///{locked}/tracking.db")

    assert outcome[:2] == ("open failed", "TrackingStoreUnavailable"), outcome
    assert "cannot be created" in outcome[2] and "not writable" in outcome[2]


def test_read_only_file_opens_for_reads_and_refuses_saves(shared_dir):
    url = _make_store(os.path.join(shared_dir, "open"), 0o777)

    outcome = _as_unprivileged(_open_and_use, url)

    assert outcome[:3] == ("opened", True, True), outcome
    assert outcome[3][:2] == ("save failed", "TrackingStoreUnavailable")
    assert "read-only" in outcome[3][2] and "\n" not in outcome[3][2]


def test_read_only_file_in_read_only_directory_fails_clearly(shared_dir):
    url = _make_store(os.path.join(shared_dir, "sealed"), 0o555)

    outcome = _as_unprivileged(_open_and_use, url)

    # SQLite cannot read a WAL database without creating its -shm file next to it: a clear refusal.
    if outcome[0] == "opened":
        assert outcome[1:3] == (True, True) and outcome[3][1] == "TrackingStoreUnavailable", outcome
    else:
        assert outcome[:2] == ("open failed", "TrackingStoreUnavailable"), outcome
        assert "read-only" in outcome[2] and url in outcome[2]
