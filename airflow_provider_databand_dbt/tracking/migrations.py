"""Schema revisions (Alembic), applied when a store is opened; no alembic.ini, nothing for users to run.

How it works:
- The revisions ship in ``tracking/alembic/versions/`` (r0001 = the 0.1.0 schema, then one per change);
  the store's revision is in ``dbt_tracking_alembic_version``.
- A fresh database is created straight from ``schema.metadata`` (which always describes head) and stamped
  head; an existing one runs the revisions above its own, in order. A test checks both give one schema.
- A store of the legacy framework (``dbt_tracking_schema_version`` at version N, no Alembic table) is
  stamped with the matching revision and continues from there. The legacy table then holds
  ``LEGACY_FENCE``, a version older code refuses as "newer than this package".
- Everything happens in one transaction: a failed revision leaves the database as it was. On SQLite
  foreign keys are off during it (checked at the end), so batch mode may re-create a parent table.
- Several processes opening a fresh store at once do not collide: PostgreSQL serialises them with a
  transaction-level advisory lock, SQLite with ``BEGIN IMMEDIATE`` (plus retries while locked).
- A database at a revision this code does not know is refused with :class:`TrackingSchemaError`.

To change the schema: edit ``schema.py`` and add a revision (see docs: "Adding a migration").
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional

import sqlalchemy as sa
from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from airflow_provider_databand_dbt.tracking import schema
from airflow_provider_databand_dbt.tracking.engine import StoreConnection, advisory_xact_lock
from airflow_provider_databand_dbt.tracking.errors import TrackingSchemaError, TrackingStoreUnavailable

log = logging.getLogger(__name__)

MIGRATION_LOCK_SUBJECT = "schema-migration"
VERSION_TABLE = f"{schema.PREFIX}alembic_version"
REVISIONS_DIR = Path(__file__).parent / "alembic"
# The legacy framework's versions and the revisions that hold the same schema.
LEGACY_REVISIONS = {1: "r0001", 2: "r0002", 3: "r0003", 4: "r0004"}
# Written to the legacy table once Alembic manages the store: older code reads it as a newer schema.
LEGACY_FENCE = 1000

_version_table = sa.Table(VERSION_TABLE, sa.MetaData(), sa.Column("version_num", sa.String(32), primary_key=True))


@dataclass(frozen=True)
class SchemaState:
    """Where a database is: its revision (None when it has no schema yet), and whether only the legacy table says so."""

    revision: Optional[str]
    legacy: bool = False


@functools.cache
def script_directory() -> ScriptDirectory:
    """The packaged revisions, read once per process."""
    return ScriptDirectory(str(REVISIONS_DIR), version_locations=[str(REVISIONS_DIR / "versions")])


def head_revision(script: Optional[ScriptDirectory] = None) -> str:
    """The newest revision this code knows (exactly one head: two revisions with one parent is a merge error)."""
    head = (script or script_directory()).get_current_head()
    assert head is not None, "the packaged revisions are missing"
    return head


def schema_state(conn: Connection) -> SchemaState:
    """The database's revision, read from Alembic's table, else from the legacy one (one read when current)."""
    inspector = sa.inspect(conn)
    if inspector.has_table(VERSION_TABLE):
        revisions = sorted(conn.execute(sa.select(_version_table.c.version_num)).scalars())
        if revisions:
            return SchemaState(",".join(revisions))  # several heads: unknown to this code, refused below
    if inspector.has_table(schema.schema_version.name):
        version = conn.execute(sa.select(sa.func.max(schema.schema_version.c.version))).scalar()
        if version is not None:
            return SchemaState(LEGACY_REVISIONS.get(version, f"legacy version {version}"), legacy=True)
    return SchemaState(None)


def upgrade(
    store: StoreConnection,
    script: Optional[ScriptDirectory] = None,
    *,
    from_revisions: bool = False,
    target: Optional[str] = None,
) -> str:
    """Bring the database to head (or ``target``) and return it; a no-op read when it is already there.

    :param store: the connection to upgrade.
    :param script: the revisions (tests pass extra ones); the packaged ones by default.
    :param from_revisions: create a fresh database by running every revision instead of from ``schema.metadata``.
    :param target: stop at this revision instead of head (tests build old stores so); implies ``from_revisions``.
    :raises TrackingSchemaError: the database is at a revision this code does not know, or a revision failed.
    :raises TrackingStoreUnavailable: the database needs an upgrade but is read-only.
    """
    script = script or script_directory()
    head = target or head_revision(script)
    with store.read() as conn:
        state = schema_state(conn)
    refuse_unknown(store, state.revision, script)
    if state.revision == head and (not state.legacy or store.read_only):
        return head
    if store.read_only:
        raise TrackingStoreUnavailable(
            f"the tracking store {store.display} is read-only and needs schema revision {head} "
            f"(it has {state.revision or 'none'}): open it once with write access to upgrade it"
        )
    from_revisions = from_revisions or head != head_revision(script)
    return store.transact(lambda conn: _upgrade_locked(store, conn, script, head, from_revisions), schema_change=True)


def _upgrade_locked(
    store: StoreConnection, conn: Connection, script: ScriptDirectory, head: str, from_revisions: bool
) -> str:
    advisory_xact_lock(conn, MIGRATION_LOCK_SUBJECT)
    # Re-read under the lock: another process may have upgraded while we waited.
    state = schema_state(conn)
    refuse_unknown(store, state.revision, script)
    if state.revision == head and not state.legacy:
        return head  # the other process did it
    context = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
    if state.revision is None and not from_revisions:
        log.info("Creating tracking store schema %s in %s", head, store.display)
        schema.metadata.create_all(conn)
        context.stamp(script, head)
    else:
        if state.legacy and state.revision:
            log.info("Tracking store %s: legacy schema taken over as revision %s", store.display, state.revision)
            context.stamp(script, state.revision)
        _run_revisions(store, context, script, state.revision, head)
    _fence_legacy_table(conn)
    _check_foreign_keys(store, conn)
    return head


def _run_revisions(
    store: StoreConnection, context: MigrationContext, script: ScriptDirectory, current: Optional[str], head: str
) -> None:
    """Apply each revision above ``current`` in order, stamping each, inside the caller's transaction."""
    pending = reversed(list(script.iterate_revisions(head, current or "base")))
    with Operations.context(context):
        for revision in pending:
            log.info("Upgrading tracking store %s to revision %s: %s", store.display, revision.revision, revision.doc)
            try:
                revision.module.upgrade()
            except Exception as error:  # any failure, SQL or Python: one line, and the transaction rolls back
                raise TrackingSchemaError(
                    f"migration of the tracking store {store.display} to revision {revision.revision} failed "
                    f"({str(getattr(error, 'orig', None) or error).splitlines()[0]}); nothing was changed"
                ) from error
            context.stamp(script, revision.revision)


def _check_foreign_keys(store: StoreConnection, conn: Connection) -> None:
    """SQLite migrates with foreign keys off (nothing cascades when batch mode re-creates a table): check them now."""
    if conn.dialect.name != "sqlite":
        return
    broken = conn.exec_driver_sql("PRAGMA foreign_key_check").all()
    if broken:
        raise TrackingSchemaError(
            f"migration of the tracking store {store.display} left {len(broken)} rows of {broken[0][0]} referring to "
            "missing rows; nothing was changed"
        )


def _fence_legacy_table(conn: Connection) -> None:
    conn.execute(sa.delete(schema.schema_version))
    conn.execute(schema.schema_version.insert().values(version=LEGACY_FENCE, applied_at=datetime.now(timezone.utc)))


def refuse_unknown(store: StoreConnection, revision: Optional[str], script: ScriptDirectory) -> None:
    """A revision this code does not know was written by a newer package: refuse it in one line."""
    if revision is None or revision in _known_revisions(script):
        return
    raise TrackingSchemaError(
        f"the tracking store {store.display} has schema revision {revision}, newer than the {head_revision(script)} "
        "this package knows: upgrade airflow-provider-databand-dbt (pip install -U airflow-provider-databand-dbt)"
    )


def _known_revisions(script: ScriptDirectory) -> frozenset[str]:
    if script is script_directory():
        return _packaged_revisions()
    return frozenset(revision.revision for revision in script.walk_revisions())


@functools.cache
def _packaged_revisions() -> frozenset[str]:
    return frozenset(revision.revision for revision in script_directory().walk_revisions())
