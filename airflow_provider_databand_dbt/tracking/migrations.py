"""Versioned schema migrations, applied when a store is opened.

How it works:
- ``dbt_tracking_schema_version`` holds one row per applied version; the database's version is the highest.
- A fresh database is created straight from ``schema.metadata`` (which always describes the latest
  version) and stamped with every version; an existing one runs the steps above its version, in order.
- Everything happens in one transaction: a failed step leaves the database as it was.
- Two processes opening a fresh store at once do not collide: PostgreSQL serialises them with a
  transaction-level advisory lock, SQLite with ``BEGIN IMMEDIATE`` (plus retries while locked).
- A database newer than this code is refused with :class:`TrackingSchemaError`.

To change the schema: edit ``schema.py`` and append a ``Migration(N, ...)`` whose ``apply`` brings a
version N-1 database to version N using Core DDL valid on SQLite and PostgreSQL.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable, Optional, Sequence, cast

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from airflow_provider_databand_dbt.tracking import schema
from airflow_provider_databand_dbt.tracking.engine import StoreConnection, advisory_xact_lock
from airflow_provider_databand_dbt.tracking.errors import TrackingSchemaError, TrackingStoreUnavailable
from airflow_provider_databand_dbt.tracking.migrations_v2 import upgrade_to_v2
from airflow_provider_databand_dbt.tracking.migrations_v5 import upgrade_node_definitions
from airflow_provider_databand_dbt.tracking.run_counts import upgrade_run_counts

log = logging.getLogger(__name__)

MIGRATION_LOCK_SUBJECT = "schema-migration"


@dataclass(frozen=True)
class Migration:
    """One schema version: ``apply`` upgrades a database at ``version - 1`` to ``version``."""

    version: int
    description: str
    apply: Callable[[Connection], None]


def _create_latest_schema(conn: Connection) -> None:
    schema.metadata.create_all(conn)


def _add_monitor_failed_runs(conn: Connection) -> None:
    """Version 3: a new table only (applies after version 2 whatever that changed)."""
    schema.monitor_failed_runs.create(conn, checkfirst=True)


def _add_pipeline_status_index(conn: Connection) -> None:
    """Version 4: an index only, so a pipeline's runs filtered by status and date are counted from it."""
    next(i for i in schema.runs.indexes if cast(str, i.name).endswith("run_pipeline_status_created")).create(conn, checkfirst=True)


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "pipelines, runs, steps, node results, sources, monitor cursors and leases", _create_latest_schema),
    Migration(2, "texts without length limits, 64-bit failures, run notes, a step's failed re-read", upgrade_to_v2),
    Migration(3, "runs a monitor syncer failed to track, with the reason", _add_monitor_failed_runs),
    Migration(4, "an index on a pipeline's runs by status and date", _add_pipeline_status_index),
    Migration(5, "node definitions stored once per pipeline, node results slim", upgrade_node_definitions),
    Migration(7, "each pipeline's run count, kept by the writes", upgrade_run_counts),
)
LATEST_VERSION = MIGRATIONS[-1].version


def current_version(conn: Connection) -> Optional[int]:
    """The database's schema version, or None when it has never been initialised."""
    if not sa.inspect(conn).has_table(schema.schema_version.name):
        return None
    return conn.execute(sa.select(sa.func.max(schema.schema_version.c.version))).scalar()


def upgrade(store: StoreConnection, migrations: Sequence[Migration] = MIGRATIONS) -> int:
    """Bring the database to the latest version and return it; a no-op read when it is already there.

    :param store: the connection to upgrade.
    :param migrations: the steps, in version order (tests pass extra steps).
    :raises TrackingSchemaError: the database is newer than this code, or a step failed.
    :raises TrackingStoreUnavailable: the database needs an upgrade but is read-only.
    """
    latest = migrations[-1].version
    with store.read() as conn:
        version = current_version(conn)
    _refuse_newer(store, version, latest)
    if version == latest:
        return version
    if store.read_only:
        raise TrackingStoreUnavailable(
            f"the tracking store {store.display} is read-only and needs schema version {latest} "
            f"(it has {version or 'none'}): open it once with write access to upgrade it"
        )
    return store.transact(lambda conn: _upgrade_locked(store, conn, migrations))


def _upgrade_locked(store: StoreConnection, conn: Connection, migrations: Sequence[Migration]) -> int:
    advisory_xact_lock(conn, MIGRATION_LOCK_SUBJECT)
    # Re-read under the lock: another process may have upgraded while we waited.
    version = current_version(conn)
    latest = migrations[-1].version
    _refuse_newer(store, version, latest)
    now = datetime.now(timezone.utc)
    if version is None:
        log.info("Creating tracking store schema version %s in %s", latest, store.display)
        _create_latest_schema(conn)
        applied = list(migrations)
    else:
        applied = [m for m in migrations if m.version > version]
        for migration in applied:
            log.info("Upgrading tracking store %s to version %s: %s", store.display, migration.version,
                     migration.description)
            try:
                migration.apply(conn)
            except sa.exc.SQLAlchemyError as error:
                raise TrackingSchemaError(
                    f"migration of the tracking store {store.display} to version {migration.version} failed "
                    f"({str(getattr(error, 'orig', None) or error).splitlines()[0]}); nothing was changed"
                ) from error
    if applied:
        conn.execute(
            schema.schema_version.insert(),
            [{"version": m.version, "applied_at": now} for m in applied],
        )
    return latest


def _refuse_newer(store: StoreConnection, version: Optional[int], latest: int) -> None:
    if version is not None and version > latest:
        raise TrackingSchemaError(
            f"the tracking store {store.display} has schema version {version}, newer than the {latest} this "
            "package knows: upgrade airflow-provider-databand-dbt (pip install -U airflow-provider-databand-dbt)"
        )
