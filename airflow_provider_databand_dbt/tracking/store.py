"""The tracking store: where every tracked dbt Cloud run, step and node result is kept and read back.

SQLite by default (a file, WAL mode), PostgreSQL for production (``postgresql+psycopg://``). The
schema is created or upgraded when the store is opened. Every public method raises only
:class:`~airflow_provider_databand_dbt.tracking.errors.TrackingError` subclasses, with one-line
messages that name the store (password masked) and what to do.
"""

from __future__ import annotations

import logging
from typing import Callable, Optional, TypeVar

import msgspec
from sqlalchemy.engine import URL, Connection, Engine

from airflow_provider_databand_dbt.dbt_cloud.shared_budget import Grant
from airflow_provider_databand_dbt.model.report import RunReport
from airflow_provider_databand_dbt.model.source import TrackingSource
from airflow_provider_databand_dbt.tracking import monitor_state, request_budget, writes
from airflow_provider_databand_dbt.tracking.engine import StoreConnection, first_line, guarded, open_connection
from airflow_provider_databand_dbt.tracking.errors import RunNotStorable, TrackingSchemaOutdated, TrackingStoreMissing
from airflow_provider_databand_dbt.tracking.migrations import (
    head_revision,
    refuse_unknown,
    schema_state,
    script_directory,
    upgrade,
)
from airflow_provider_databand_dbt.tracking.read import nodes, pipelines, report, runs
from airflow_provider_databand_dbt.tracking.read.filters import Bound, RunFilter, StatusFilter
from airflow_provider_databand_dbt.tracking.rows import (
    MonitorCursor,
    NodeHistoryRow,
    PipelineRow,
    RunRow,
    SaveOutcome,
)
from airflow_provider_databand_dbt.tracking.url import (
    choose_tracking_url,
    masked_url,
    parse_tracking_url,
    resolve_tracking_url,
)

log = logging.getLogger(__name__)

# Errors a driver raises for a value it cannot send (before SQL runs): the run, not the store, is at fault.
_UNSTORABLE = (ValueError, OverflowError, TypeError, UnicodeError, msgspec.MsgspecError)

T = TypeVar("T")

__all__ = ["MonitorCursor", "NodeHistoryRow", "PipelineRow", "RunRow", "SaveOutcome", "TrackingStore"]


class TrackingStore:
    """Save and query tracked dbt Cloud runs; safe to share between threads and to open from many processes.

    :param url: a SQLAlchemy URL (``sqlite:////path/tracking.db``, ``postgresql+psycopg://user:pw@host/db``;
        ``postgresql://`` and ``postgres://`` are read as psycopg 3). ``None`` resolves it from
        ``DATABAND_DBT_TRACKING_URL``, then ``AIRFLOW__DATABAND_DBT__TRACKING_URL``, then a SQLite file
        under ``$AIRFLOW_HOME/databand_dbt/`` or ``~/.databand_dbt/``.
    :param read_only: only read: nothing is created, upgraded or written (SQLite is opened ``mode=ro``, so a
        store on a read-only mount or owned by another user can be read). For viewers such as ``runs``,
        ``show`` and the web view.
    :raises TrackingStoreUnavailable: the URL is invalid, or the database cannot be reached or created.
    :raises TrackingStoreMissing: ``read_only`` and there is no store at that URL yet.
    :raises TrackingSchemaOutdated: ``read_only`` and the store needs a schema upgrade first.
    :raises TrackingSchemaError: the database was created by a newer version of this package.
    """

    def __init__(self, url: Optional[str] = None, *, read_only: bool = False) -> None:
        connect_url = parse_tracking_url(choose_tracking_url(url).url if read_only else resolve_tracking_url(url))
        self._db = open_connection(connect_url, read_only=read_only)
        # What callers see: credentials masked, since SQLAlchemy 1.4's str(URL) prints the password.
        self.url: URL = masked_url(connect_url)
        self.display_url: str = self._db.display
        self.read_only: bool = self._db.read_only
        try:
            with guarded("open the store", self.display_url):
                if read_only:
                    _check_readable(self._db)
                else:
                    upgrade(self._db)
        except BaseException:
            self._db.dispose()
            raise
        if self.read_only and not read_only:
            log.info("Tracking store %s is read-only: runs can be read but not saved", self.display_url)

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine, for readers that query the tables in ``tracking/schema.py`` directly."""
        return self._db.engine

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self._db.dialect

    def save_report(self, report: RunReport, source: Optional[TrackingSource] = None) -> SaveOutcome:
        """Store a run's report, creating or updating it in place, and record who tracked it.

        One transaction: the pipeline (job) is upserted with the report's names, the run is upserted
        by (host, account id, run id), its steps and node results are replaced, and a source row is
        added. A finished run (success, error, cancelled) is never overwritten by an in-progress
        snapshot: that save returns ``kept_newer`` and only adds the source. Concurrent saves of one
        run from several threads or processes leave exactly one run with one set of steps and nodes.

        :param report: the run to store.
        :param source: who tracked it; stamped with the time and hostname when those are missing.
            ``None`` records an ``api`` source.
        :raises RunNotStorable: a value of the run cannot be stored even after fitting (see ``tracking/fit.py``).
        """
        stamped = (source or TrackingSource(kind="api")).stamped()
        try:
            with guarded(f"save run {report.run_id}", self.display_url):
                # A save deletes nothing and writes only keys it read or inserted itself (see transact).
                return self._db.transact(lambda conn: writes.save_report(conn, report, stamped), keys_trusted=True)
        except _UNSTORABLE as error:
            # The driver refused a value before it reached the database (e.g. an int no column type holds).
            raise RunNotStorable(
                f"could not save run {report.run_id} of account {report.account_id} on {report.host} in "
                f"{self.display_url}: a value cannot be stored ({type(error).__name__}: {first_line(error)})"
            ) from error

    def transact(self, action: str, work: Callable[[Connection], T]) -> T:
        """Run ``work(conn)`` in one write transaction of this store, replayed while the database is busy.

        For sinks that write beside a stored run (alert incidents and their outbox rows commit together).

        :param action: what is done, for the error message (``evaluate alert rules for run 42``).
        """
        with guarded(action, self.display_url):
            return self._db.transact(work)

    def get_report(
        self, run_id: int, *, account_id: Optional[int] = None, host: Optional[str] = None
    ) -> Optional[RunReport]:
        """The stored report of a run, exactly as saved (datetimes in UTC), or None when it is not tracked.

        When the same run id exists for several hosts or accounts and they are not given, the run
        updated most recently is returned.
        """
        with guarded(f"read run {run_id}", self.display_url), self._db.read() as conn:
            run_pk = runs.find_run_pk(conn, run_id, account_id, host)
            return None if run_pk is None else report.load_report(conn, run_pk)

    def list_sources(
        self, run_id: int, account_id: Optional[int] = None, host: Optional[str] = None
    ) -> list[TrackingSource]:
        """Every sighting of a run (Airflow task, monitor, CLI...), oldest first; empty when it is not tracked.

        The run is chosen as in :meth:`get_report`.
        """
        with guarded(f"read the sources of run {run_id}", self.display_url), self._db.read() as conn:
            run_pk = runs.find_run_pk(conn, run_id, account_id, host)
            return [] if run_pk is None else runs.list_sources(conn, run_pk)

    def find_runs(
        self, run_id: int, *, account_id: Optional[int] = None, host: Optional[str] = None, limit: int = 50
    ) -> list[RunRow]:
        """Every tracked run with this dbt Cloud run id (one per host and account), newest first.

        More than one means the id alone is ambiguous: pass ``account_id`` and ``host`` to the other methods.
        """
        clauses = runs.key_clauses(run_id=run_id, account_id=account_id, host=host)
        with guarded(f"find run {run_id}", self.display_url), self._db.read() as conn:
            return runs.run_rows(conn, clauses=clauses, limit=limit)

    def list_pipelines(self) -> list[PipelineRow]:
        """Every tracked dbt Cloud job with its run count and latest run, most recently active first."""
        with guarded("list pipelines", self.display_url), self._db.read() as conn:
            return pipelines.pipeline_rows(conn)

    def list_runs(
        self,
        *,
        job_id: Optional[int] = None,
        status: StatusFilter = None,
        since: Bound = None,
        until: Bound = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[RunRow]:
        """Tracked runs, newest first (created_at, then run id), with node counts and the kinds of sources.

        :param job_id: only runs of this dbt Cloud job.
        :param status: one status (``error``) or several (``["error", "cancelled"]``).
        :param since: only runs created at or after this instant (a ``date``: its 00:00 UTC; naive = UTC).
        :param until: only runs created before this instant (a ``date``: through the end of that UTC day).
            The same rule as ``databand-dbt runs --since/--until`` and the web view (``tracking/read/filters.py``).
        :param limit: page size.
        :param offset: rows to skip, for paging together with :meth:`count_runs`.
        """
        run_filter = RunFilter(status=status, since=since, until=until)
        with guarded("list runs", self.display_url), self._db.read() as conn:
            return runs.run_rows(conn, run_filter, clauses=runs.key_clauses(job_id=job_id), limit=limit, offset=offset)

    def count_runs(
        self,
        *,
        job_id: Optional[int] = None,
        status: StatusFilter = None,
        since: Bound = None,
        until: Bound = None,
    ) -> int:
        """How many runs :meth:`list_runs` would page through with the same filters."""
        clauses = [*RunFilter(status=status, since=since, until=until).clauses(), *runs.key_clauses(job_id=job_id)]
        with guarded("count runs", self.display_url), self._db.read() as conn:
            return runs.count_runs(conn, clauses)

    def node_history(self, unique_id: str, *, job_id: Optional[int] = None, limit: int = 100) -> list[NodeHistoryRow]:
        """A node's result in each run that had it (its last step there), newest run first.

        :param unique_id: dbt unique id, e.g. ``model.jaffle_shop.fct_orders``.
        :param job_id: only runs of this dbt Cloud job.
        :param limit: most runs to return.
        """
        with guarded(f"read the history of {unique_id}", self.display_url), self._db.read() as conn:
            return nodes.history_rows(conn, unique_id, job_id=job_id, limit=limit)

    def get_cursor(self, syncer: str) -> Optional[MonitorCursor]:
        """Where a monitor syncer stopped, or None when it never saved a cursor."""
        with guarded(f"read the cursor of syncer {syncer}", self.display_url), self._db.read() as conn:
            return monitor_state.get_cursor(conn, syncer)

    def save_cursor(self, cursor: MonitorCursor) -> MonitorCursor:
        """Insert or replace a syncer's cursor; returns it with ``updated_at`` set."""
        with guarded(f"save the cursor of syncer {cursor.syncer}", self.display_url):
            return self._db.transact(lambda conn: monitor_state.save_cursor(conn, cursor))

    def try_acquire_lease(self, syncer: str, owner: str, ttl_seconds: float) -> bool:
        """Claim a syncer for ``owner`` for ``ttl_seconds``.

        Call it again before the lease expires to keep it. Another owner's unexpired lease makes it False.

        :return: True when it is ours (new, taken over when expired, or renewed).
        """
        with guarded(f"acquire the lease of syncer {syncer}", self.display_url):
            return self._db.transact(lambda conn: monitor_state.try_acquire_lease(conn, syncer, owner, ttl_seconds))

    def lease_holder(self, syncer: str) -> Optional[str]:
        """Who holds a syncer's lease (``host:pid:start:random``), or None when it is free."""
        with guarded(f"read the lease of syncer {syncer}", self.display_url), self._db.read() as conn:
            return monitor_state.lease_holder(conn, syncer)

    def take_over_lease(self, syncer: str, dead_owner: str, owner: str, ttl_seconds: float) -> bool:
        """Take a lease from a holder the caller proved dead; False when someone else got it first."""
        with guarded(f"take over the lease of syncer {syncer}", self.display_url):
            return self._db.transact(
                lambda conn: monitor_state.take_over_lease(conn, syncer, dead_owner, owner, ttl_seconds)
            )

    def release_lease(self, syncer: str, owner: str) -> bool:
        """Give up a lease held by ``owner`` (e.g. on shutdown); False when ``owner`` did not hold it."""
        with guarded(f"release the lease of syncer {syncer}", self.display_url):
            return self._db.transact(lambda conn: monitor_state.release_lease(conn, syncer, owner))

    def record_failed_run(
        self, syncer: str, host: str, account_id: int, run_id: int, kind: str, reason: str, retry_delay
    ) -> monitor_state.FailedRun:
        """Record a failed attempt of a monitor syncer at a run.

        :param retry_delay: ``retry_delay(attempts)`` -> seconds until the next attempt, or None to give up.
        """
        with guarded(f"record failed run {run_id} of syncer {syncer}", self.display_url):
            return self._db.transact(
                lambda conn: monitor_state.record_failed_run(
                    conn, syncer, host, account_id, run_id, kind, reason, retry_delay
                )
            )

    def due_failed_runs(self, syncer: str, limit: int = 20) -> list[int]:
        """Failed runs of a syncer whose next retry is due."""
        with guarded(f"read the failed runs of syncer {syncer}", self.display_url), self._db.read() as conn:
            return monitor_state.due_failed_runs(conn, syncer, limit)

    def clear_failed_run(self, syncer: str, run_id: int) -> bool:
        """Forget a failed run once it was tracked."""
        with guarded(f"clear failed run {run_id} of syncer {syncer}", self.display_url):
            return self._db.transact(lambda conn: monitor_state.clear_failed_run(conn, syncer, run_id))

    def list_failed_runs(self, syncer: Optional[str] = None) -> list[monitor_state.FailedRun]:
        """Runs the monitor failed to track, with attempts, reason and next retry (None: gave up)."""
        with guarded("list failed runs", self.display_url), self._db.read() as conn:
            return monitor_state.list_failed_runs(conn, syncer)

    def read(self, action: str, work: Callable[[Connection], T]) -> T:
        """Run ``work(conn)`` in one read transaction (a consistent snapshot), for modules with their own tables.

        :param action: what is read, for the error message (``read the alert outbox``).
        """
        with guarded(action, self.display_url), self._db.read() as conn:
            return work(conn)

    # -- the request budget per dbt Cloud account (tracking/request_budget.py) ---------------------

    def set_request_budget(self, host: str, account_id: int, requests_per_minute: float, owner: str) -> None:
        """Record the budget every process tracking into this store shares for (host, account); last writer wins."""
        with guarded(f"set the request budget of account {account_id}", self.display_url):
            self._db.transact(
                lambda conn: request_budget.set_budget(conn, host, account_id, requests_per_minute, owner)
            )

    def take_request_tokens(self, host: str, account_id: int, want: int, returned: int = 0) -> Grant:
        """Give back ``returned`` unspent tokens, refill and take ``want`` in one transaction (see ``SharedBudget``)."""
        with guarded(f"take request tokens of account {account_id}", self.display_url):
            return self._db.transact(lambda conn: request_budget.take(conn, host, account_id, want, returned))

    def give_back_request_tokens(self, host: str, account_id: int, tokens: int) -> None:
        """Return tokens taken but not spent."""
        with guarded(f"give back request tokens of account {account_id}", self.display_url):
            self._db.transact(lambda conn: request_budget.give_back(conn, host, account_id, tokens))

    def block_account(self, host: str, account_id: int, seconds: float, owner: str) -> None:
        """dbt Cloud answered 429: every process waits ``seconds`` before its next request to the account."""
        with guarded(f"block account {account_id} after a 429", self.display_url):
            self._db.transact(lambda conn: request_budget.block(conn, host, account_id, seconds, owner))

    def request_budgets(
        self, host: Optional[str] = None, account_id: Optional[int] = None
    ) -> list[request_budget.RequestBudget]:
        """The stored request budgets and blocks, tokens refilled to now."""
        with guarded("read the request budgets", self.display_url), self._db.read() as conn:
            return request_budget.read(conn, host, account_id)

    def close(self) -> None:
        """Close pooled connections; the store must not be used afterwards."""
        self._db.dispose()

    def __enter__(self) -> TrackingStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"TrackingStore({self.display_url!r})"


def _check_readable(db: StoreConnection) -> None:
    """A reader's check: the schema exists and is the one this code reads (readers never create or upgrade)."""
    with db.read() as conn:
        revision = schema_state(conn).revision
    head = head_revision()
    if revision is None:
        raise TrackingStoreMissing(
            f"the tracking store {db.display} has no tables yet: nothing has been tracked there "
            "(reading commands never create a store); check the URL or track a run into it first"
        )
    refuse_unknown(db, revision, script_directory())
    if revision != head:
        raise TrackingSchemaOutdated(
            f"the tracking store {db.display} has schema revision {revision} and this package reads {head}: "
            "open it once with write access (any collect, the monitor, an Airflow task) to upgrade it"
        )
