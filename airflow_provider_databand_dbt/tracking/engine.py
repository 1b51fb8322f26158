"""Connections to the store: engine setup per backend, write transactions, retries and error translation.

SQLite gets WAL, a busy timeout and foreign keys; writes start with ``BEGIN IMMEDIATE`` so two writers
queue on the lock instead of failing half-way. Every SQLAlchemy error leaving this package is turned
into a :class:`TrackingError` whose one-line message names the (password-masked) URL and what to do.
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import sqlite3
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Callable, TypeVar, cast
from urllib.parse import quote

import sqlalchemy as sa
from sqlalchemy import event, exc
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.pool import StaticPool

from airflow_provider_databand_dbt.extras import is_importable
from airflow_provider_databand_dbt.tracking.errors import (
    TrackingDriverMissing,
    TrackingError,
    TrackingStoreMissing,
    TrackingStoreUnavailable,
)
from airflow_provider_databand_dbt.tracking.url import (
    ENV_TRACKING_URL,
    SQLALCHEMY_1,
    display_url,
    is_sqlite_memory,
    is_sqlite_uri,
)

log = logging.getLogger(__name__)

T = TypeVar("T")

SQLITE_BUSY_TIMEOUT_MS = 15_000
POSTGRES_CONNECT_TIMEOUT_S = 10
RETRY_DELAYS_S = (0.05, 0.1, 0.2, 0.4, 0.8, 1.6)
# Execution option that makes the SQLite "begin" hook take the write lock up front.
WRITE_OPTION = "databand_dbt_write"
# Execution option of a schema change: on SQLite, foreign keys are off for its transaction (see transact).
SCHEMA_CHANGE_OPTION = "databand_dbt_schema_change"
# Execution option of a write whose every key it inserts was read or inserted by itself (see transact).
KEYS_TRUSTED_OPTION = "databand_dbt_keys_trusted"
# Execution option of a write that must survive a power loss once committed (see transact).
DURABLE_OPTION = "databand_dbt_durable"
_FOREIGN_KEYS_OFF = "databand_dbt_foreign_keys_off"
_SYNCHRONOUS_FULL = "databand_dbt_synchronous_full"
# PostgreSQL errors worth replaying the whole transaction for: serialization failure, deadlock.
_RETRYABLE_SQLSTATES = {"40001", "40P01"}
# First key of every PostgreSQL advisory lock this package takes; the second key says what is locked.
ADVISORY_LOCK_NAMESPACE = 0x0DB7_7A0C
# SQLite reports a missing table or column as an OperationalError: a damaged schema, not an outage.
_SCHEMA_PROBLEMS = ("no such table", "no such column", "has no column named")


class StoreConnection:
    """An engine plus what the store needs to know about it: backend, read-only, display URL."""

    def __init__(self, url: URL, *, read_only: bool = False) -> None:
        self.url = url
        self.display = display_url(url)
        self.dialect = url.get_backend_name()
        self.read_only = read_only
        self.engine = _create_engine(url, self.display, read_only=read_only)
        if read_only and self.dialect == "sqlite":
            self.engine = _readable_sqlite_engine(self.engine, url, self.display)

    @contextlib.contextmanager
    def read(self) -> Iterator[Connection]:
        """A connection in a read transaction (a consistent snapshot on both backends)."""
        with self.engine.connect() as conn:
            with conn.begin():
                yield conn

    @contextlib.contextmanager
    def write(
        self, *, schema_change: bool = False, keys_trusted: bool = False, durable: bool = False
    ) -> Iterator[Connection]:
        """A connection in a write transaction, committed on success, rolled back on error."""
        if self.read_only:
            raise TrackingStoreUnavailable(
                f"the tracking store {self.display} is read-only: make the file and its directory writable "
                f"or point {ENV_TRACKING_URL} at a writable location"
            )
        with self.engine.connect() as conn:
            conn = conn.execution_options(
                **{
                    WRITE_OPTION: True,
                    SCHEMA_CHANGE_OPTION: schema_change,
                    KEYS_TRUSTED_OPTION: keys_trusted,
                    DURABLE_OPTION: durable,
                }
            )
            with conn.begin():
                yield conn

    def transact(
        self,
        work: Callable[[Connection], T],
        *,
        schema_change: bool = False,
        keys_trusted: bool = False,
        durable: bool = False,
    ) -> T:
        """Run ``work`` in a write transaction, replaying it when the database was briefly locked or busy.

        :param schema_change: SQLite only: foreign keys are off during the transaction (as SQLite's own
            procedure for table changes asks), so re-creating a table (Alembic batch mode) cannot cascade-delete
            the rows that refer to it; ``work`` checks them (``PRAGMA foreign_key_check``) before it returns.
        :param keys_trusted: SQLite only: foreign keys are not checked during the transaction, for a ``work`` that
            deletes nothing and only writes keys it read or inserted itself in this transaction (SQLite has one
            writer at a time, so none of them can vanish before the commit). Saving a run is such a work: the
            checks cost a B-tree lookup per key of each of its 100,000s of node result rows.
        :param durable: SQLite only: the commit is flushed to disk (``synchronous = FULL``) before it returns, for
            a write that someone is told has happened (a webhook acknowledged with 200). Other writes keep WAL's
            ``NORMAL``, which survives a killed process but may lose the last commits to a power loss.
        """
        for attempt, delay in enumerate((*RETRY_DELAYS_S, None)):
            try:
                with self.write(schema_change=schema_change, keys_trusted=keys_trusted, durable=durable) as conn:
                    return work(conn)
            except exc.DBAPIError as error:
                if delay is None or not _is_retryable(error):
                    raise
                pause = delay * (1 + random.random())  # jitter, so two waiting writers do not collide again
                log.debug("Tracking store %s busy (attempt %s), retrying in %.2fs", self.display, attempt + 1, pause)
                time.sleep(pause)
        raise AssertionError("unreachable")

    def dispose(self) -> None:
        self.engine.dispose()


def check_sqlite_location(url: URL, *, must_exist: bool = False) -> bool:
    """Check a SQLite file URL before connecting; returns True when the file can only be read.

    :param must_exist: a reader's check: a missing file is an error instead of a store to create.
    :raises TrackingStoreMissing: ``must_exist`` and there is no file.
    :raises TrackingStoreUnavailable: the directory is missing, or the file does not exist and cannot be created.
    """
    if is_sqlite_memory(url):
        return False
    if is_sqlite_uri(url):
        return str(url.query.get("mode", "")).lower() == "ro"
    path = Path(cast(str, url.database)).absolute()  # not None: is_sqlite_memory() took that case
    directory = path.parent
    display = display_url(url)
    if must_exist and not path.exists():
        raise TrackingStoreMissing(
            f"no tracking store at {path}: the file does not exist and reading commands never create one; "
            f"check the path (--tracking-url, {ENV_TRACKING_URL}) or track a run into it first"
        )
    if not directory.is_dir():
        raise TrackingStoreUnavailable(
            f"the tracking store {display} is in a directory that does not exist ({directory}): "
            f"create it or point {ENV_TRACKING_URL} at another file"
        )
    directory_writable = os.access(directory, os.W_OK | os.X_OK)
    if path.exists():
        if not path.is_file():
            raise TrackingStoreUnavailable(
                f"the tracking store {display} is not a file: point {ENV_TRACKING_URL} at a file"
            )
        if not os.access(path, os.R_OK):
            raise TrackingStoreUnavailable(
                f"the tracking store {display} cannot be read (permission denied): fix its permissions "
                f"or point {ENV_TRACKING_URL} at another file"
            )
        # SQLite writes its journal next to the file, so a read-only directory makes the store read-only too.
        return not (os.access(path, os.W_OK) and directory_writable)
    if not directory_writable:
        raise TrackingStoreUnavailable(
            f"the tracking store {display} cannot be created: directory {directory} is not writable; "
            f"fix its permissions or point {ENV_TRACKING_URL} at a writable location"
        )
    return False


def _create_engine(url: URL, display: str, *, read_only: bool = False) -> Engine:
    kwargs: dict = {}
    if SQLALCHEMY_1:
        kwargs["future"] = True
    backend = url.get_backend_name()
    if backend == "sqlite":
        connect_args: dict[str, object] = {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False}
        if is_sqlite_memory(url):
            # One shared connection, or every pooled connection would see its own empty database.
            kwargs["poolclass"] = StaticPool
        kwargs["connect_args"] = connect_args
    else:
        _require_postgres_driver(url, display)
        connect_args = {"application_name": "databand-dbt"}
        if "connect_timeout" not in url.query:
            connect_args["connect_timeout"] = POSTGRES_CONNECT_TIMEOUT_S
        if read_only:  # the server itself refuses writes, whatever a caller tries
            options = str(url.query.get("options", ""))
            connect_args["options"] = f"{options} -c default_transaction_read_only=on".strip()
        kwargs.update(connect_args=connect_args, pool_pre_ping=True)
    try:
        engine = sa.create_engine(url, **kwargs)
    except exc.NoSuchModuleError as error:
        hint = (
            "use postgresql:// with psycopg2 installed (SQLAlchemy 1.4 has no psycopg 3 dialect)"
            if SQLALCHEMY_1
            else "use sqlite:/// or postgresql+psycopg://"
        )
        raise TrackingStoreUnavailable(
            f"the tracking store URL {display} names a database driver SQLAlchemy {sa.__version__} does not "
            f"know ({url.drivername!r}): {hint}"
        ) from error
    except ImportError as error:
        raise TrackingStoreUnavailable(
            f"the driver for the tracking store {display} is not installed ({error.name or error}): "
            "install it, or use postgresql+psycopg:// with the 'postgres' extra (pip install "
            "'airflow-provider-databand-dbt[postgres]')"
        ) from error
    except exc.ArgumentError as error:
        raise TrackingStoreUnavailable(f"invalid tracking store URL {display}: {first_line(error)}") from error
    if backend == "sqlite":
        _install_sqlite_hooks(engine, read_only=read_only)
    return engine


def _require_postgres_driver(url: URL, display: str) -> None:
    """A postgresql URL whose driver (psycopg 3, or psycopg2 for ``postgresql://``) is missing: name the extra."""
    driver = url.get_driver_name()
    if url.get_backend_name() != "postgresql" or driver not in ("psycopg", "psycopg2") or is_importable(driver):
        return
    alternative = "" if driver == "psycopg" else "then use postgresql+psycopg://, or pip install psycopg2-binary"
    raise TrackingDriverMissing(f"the tracking store {display}", "postgres", driver, alternative=alternative)


def _sqlite_read_only_url(url: URL, *, immutable: bool) -> URL:
    """``file:PATH?mode=ro`` (or ``immutable=1``): SQLite opens it without ever writing, not even a journal."""
    path = quote(str(Path(str(url.database)).absolute()), safe="/")
    query = {"uri": "true", "immutable": "1"} if immutable else {"uri": "true", "mode": "ro"}
    return url.set(database=f"file:{path}", query=query)


def _readable_sqlite_engine(engine: Engine, url: URL, display: str) -> Engine:
    """An engine that can read a store its user cannot write, even on a read-only mount.

    ``mode=ro`` still needs the WAL index (``-shm``) next to the file; when it cannot be created there
    (read-only directory), fall back to ``immutable=1``, which reads the file as it is.
    """
    if is_sqlite_memory(url):
        return engine
    if is_sqlite_uri(url):  # the user's own URI: only make sure it cannot create or write the file
        if "mode" in url.query or "immutable" in url.query:
            return engine
        engine.dispose()
        return _create_engine(url.update_query_dict({"mode": "ro"}), display, read_only=True)
    engine.dispose()
    read_only = _create_engine(_sqlite_read_only_url(url, immutable=False), display, read_only=True)
    try:
        with read_only.connect() as conn:
            conn.exec_driver_sql("SELECT count(*) FROM sqlite_master").scalar()
        return read_only
    except exc.DBAPIError as error:
        read_only.dispose()
        log.info(
            "Tracking store %s cannot be opened read-only (%s): reading it as immutable", display, first_line(error)
        )
    wal = Path(f"{Path(str(url.database)).absolute()}-wal")
    if wal.exists() and wal.stat().st_size > 0:
        log.warning(
            "Tracking store %s: its write-ahead log %s cannot be read from here; the latest changes may be "
            "missing until a writer checkpoints it",
            display,
            wal,
        )
    immutable = _create_engine(_sqlite_read_only_url(url, immutable=True), display, read_only=True)
    with guarded("open the store read-only", display), immutable.connect() as conn:
        conn.exec_driver_sql("SELECT count(*) FROM sqlite_master").scalar()
    return immutable


def _install_sqlite_hooks(engine: Engine, *, read_only: bool = False) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        # SQLAlchemy emits BEGIN itself (below); the driver's implicit transactions would defeat BEGIN IMMEDIATE.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
            if read_only:
                return
            cursor.execute("PRAGMA foreign_keys = ON")
            mode = cursor.execute("PRAGMA journal_mode").fetchone()[0]
            if str(mode).lower() not in ("wal", "memory"):
                try:
                    cursor.execute("PRAGMA journal_mode = WAL")
                    # NORMAL is durable enough in WAL mode and much faster than FULL.
                    cursor.execute("PRAGMA synchronous = NORMAL")
                except sqlite3.OperationalError as error:  # read-only file, or another process switching it
                    log.debug("Could not switch the tracking store to WAL mode: %s", error)
            else:
                cursor.execute("PRAGMA synchronous = NORMAL")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn) -> None:
        options = conn.get_execution_options()
        if options.get(SCHEMA_CHANGE_OPTION) or options.get(KEYS_TRUSTED_OPTION):
            # Only outside a transaction does this take effect; back on when the connection returns to the pool.
            conn.exec_driver_sql("PRAGMA foreign_keys = OFF")
            conn.connection.info[_FOREIGN_KEYS_OFF] = True
        if options.get(DURABLE_OPTION):
            conn.exec_driver_sql("PRAGMA synchronous = FULL")
            conn.connection.info[_SYNCHRONOUS_FULL] = True
        if options.get(WRITE_OPTION):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")

    @event.listens_for(engine, "checkin")
    def _on_checkin(dbapi_connection, record) -> None:
        if dbapi_connection is not None and record.info.pop(_FOREIGN_KEYS_OFF, False):
            dbapi_connection.execute("PRAGMA foreign_keys = ON")
        if dbapi_connection is not None and record.info.pop(_SYNCHRONOUS_FULL, False):
            dbapi_connection.execute("PRAGMA synchronous = NORMAL")


def _is_retryable(error: exc.DBAPIError) -> bool:
    # Lost connections are not replayed: the commit may have happened, and a replay would add a second source.
    orig = error.orig
    if isinstance(orig, sqlite3.OperationalError):
        text = str(orig).lower()
        return "locked" in text or "busy" in text
    return getattr(orig, "sqlstate", None) in _RETRYABLE_SQLSTATES


def first_line(error: BaseException) -> str:
    """The driver's own message, first line only and without SQL or parameters."""
    source = getattr(error, "orig", None) or error
    text = str(source).strip()
    line = text.splitlines()[0].strip() if text else type(source).__name__
    return line[:300]


def translate_error(error: exc.SQLAlchemyError, action: str, display: str) -> TrackingError:
    """One TrackingError for a SQLAlchemy error: which store, what failed, what to do about it."""
    reason = first_line(error)
    lowered = reason.lower()
    prefix = f"could not {action}: tracking store {display}"
    orig = getattr(error, "orig", None)
    is_sqlite = isinstance(orig, sqlite3.Error)
    if "readonly" in lowered or "read-only" in lowered:
        fix = (
            "make the file and its directory writable"
            if is_sqlite
            else "use a user that may write and the primary server, not a read-only standby,"
        )
        return TrackingStoreUnavailable(
            f"{prefix} is read-only ({reason}): {fix} or point {ENV_TRACKING_URL} at a writable location"
        )
    if "locked" in lowered or "busy" in lowered:
        return TrackingStoreUnavailable(
            f"{prefix} stayed locked by another process ({reason}): retry, or use PostgreSQL for many writers"
        )
    if any(marker in lowered for marker in _SCHEMA_PROBLEMS):
        return TrackingError(
            f"{prefix} has tables this package did not create or expect ({reason}): "
            "was the schema changed by hand? Use a fresh store or restore a backup"
        )
    # SQLite has no server, user or password: its problems are the file's ("file is not a database"...).
    if isinstance(orig, sqlite3.OperationalError) or type(orig) is sqlite3.DatabaseError:
        return TrackingStoreUnavailable(
            f"{prefix} cannot be used ({reason}): check that the file is a tracking store, that you may read "
            f"it and its directory, and {ENV_TRACKING_URL}"
        )
    if isinstance(error, (exc.OperationalError, exc.InterfaceError, exc.TimeoutError, exc.DisconnectionError)):
        return TrackingStoreUnavailable(
            f"{prefix} cannot be used ({reason}): check that the database is running and reachable, "
            f"the user and password, and {ENV_TRACKING_URL}"
        )
    return TrackingError(f"{prefix} failed: {reason}")


@contextlib.contextmanager
def guarded(action: str, display: str) -> Iterator[None]:
    """Turn SQLAlchemy errors raised inside the block into TrackingErrors (keeping the cause chained)."""
    try:
        yield
    except exc.SQLAlchemyError as error:
        raise translate_error(error, action, display) from error


def open_connection(url: URL, *, read_only: bool = False) -> StoreConnection:
    """A StoreConnection for a parsed URL, with SQLite's file location checked first.

    :param read_only: never write (nor create) anything: SQLite is opened ``mode=ro``, PostgreSQL
        sessions are read-only, and a missing SQLite file raises :class:`TrackingStoreMissing`.
    """
    if url.get_backend_name() == "sqlite":
        read_only = check_sqlite_location(url, must_exist=read_only) or read_only
    return StoreConnection(url, read_only=read_only)


def advisory_xact_lock(conn: Connection, subject: str) -> None:
    """On PostgreSQL, wait for a lock on ``subject`` held until the transaction ends (no-op on SQLite).

    SQLite needs none: write transactions already start with ``BEGIN IMMEDIATE``, one writer at a time.
    """
    if conn.dialect.name != "postgresql":
        return
    key = zlib.crc32(subject.encode("utf-8"))
    key = key - (1 << 32) if key >= (1 << 31) else key  # int4, as pg_advisory_xact_lock(int, int) wants
    conn.execute(sa.select(sa.func.pg_advisory_xact_lock(ADVISORY_LOCK_NAMESPACE, key)))


def upsert_statement(conn: Connection, table: sa.Table):
    """The dialect's ``INSERT`` that supports ``on_conflict_do_update`` (SQLite or PostgreSQL)."""
    return (postgresql.insert if conn.dialect.name == "postgresql" else sqlite_dialect.insert)(table)


def delete_batch(conn: Connection, table: sa.Table, condition: sa.ColumnElement[bool], limit: int) -> int:
    """Delete at most ``limit`` rows matching ``condition``, lowest ids first; returns how many went.

    For pruning in short transactions. On PostgreSQL the ids are locked and read first, skipping rows another
    deleter holds (``SKIP LOCKED``, so several processes pruning one table take different rows), then deleted:
    as a subquery of the DELETE, a locking ``LIMIT`` may be re-run for each row and go past ``limit``.
    """
    doomed = sa.select(table.c.id).where(condition).order_by(table.c.id).limit(limit)
    if conn.dialect.name == "postgresql":
        ids = conn.execute(doomed.with_for_update(skip_locked=True)).scalars().all()
        if not ids:
            return 0
        result = conn.execute(sa.delete(table).where(table.c.id.in_(ids), condition))
    else:  # one writer at a time: nothing to skip, and the subquery runs once
        result = conn.execute(sa.delete(table).where(table.c.id.in_(doomed.scalar_subquery()), condition))
    return int(result.rowcount or 0)
