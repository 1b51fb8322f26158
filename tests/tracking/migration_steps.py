"""Schema steps written as plain functions, as a helper branch writes them, and test revisions that call them."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from airflow_provider_databand_dbt.tracking.migrations import REVISIONS_DIR, head_revision

EXTRA_TABLE = "dbt_tracking_test_extra"


def add_extra_table(conn: Connection) -> None:
    conn.execute(sa.text(f"CREATE TABLE {EXTRA_TABLE} (id INTEGER PRIMARY KEY, note VARCHAR(20))"))
    conn.execute(sa.text(f"INSERT INTO {EXTRA_TABLE} (id, note) VALUES (1, 'kept')"))


def widen_note_in_batch(op) -> None:
    """A type change: SQLite cannot ALTER it, so batch mode copies the table (move and copy)."""
    with op.batch_alter_table(EXTRA_TABLE) as batch:
        batch.alter_column("note", type_=sa.Text, existing_type=sa.String(20))
        batch.add_column(sa.Column("added", sa.Integer, nullable=False, server_default="7"))


def recreate_run_table(op) -> None:
    """Batch mode re-creating the parent of steps, node results and sources (on SQLite: copy, drop, rename)."""
    with op.batch_alter_table("dbt_tracking_run") as batch:  # ADD COLUMN: an ALTER on both backends
        batch.add_column(sa.Column("test_flag", sa.Boolean, nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("test_dropped", sa.Integer))
    with op.batch_alter_table("dbt_tracking_run") as batch:  # DROP COLUMN: SQLite re-creates the table
        batch.drop_column("test_dropped")


def add_column_then_fail(conn: Connection) -> None:
    conn.execute(sa.text(f"ALTER TABLE {EXTRA_TABLE} ADD COLUMN half_done INTEGER"))
    conn.execute(sa.text("SELECT * FROM dbt_tracking_no_such_table"))


REVISION = '''"""{doc}"""
from alembic import op

import migration_steps

revision = "{revision}"
down_revision = "{down}"
branch_labels = None
depends_on = None


def upgrade():
    {body}
'''
BODIES = {
    "extra": ("an extra table, from a plain function", "migration_steps.add_extra_table(op.get_bind())"),
    "batch": ("a batch ALTER of it", "migration_steps.widen_note_in_batch(op)"),
    "recreate_run": ("a batch re-creation of the run table", "migration_steps.recreate_run_table(op)"),
    "fail": ("breaks half-way", "migration_steps.add_column_then_fail(op.get_bind())"),
}


def scripts_with(folder: Path, *steps: str) -> ScriptDirectory:
    """The packaged revisions plus one test revision per step (names of BODIES), chained above head."""
    folder.mkdir(parents=True, exist_ok=True)
    down = head_revision()
    for number, step in enumerate(steps, start=1):
        doc, body = BODIES[step]
        revision = f"t{number:04d}"
        (folder / f"{revision}_{step}.py").write_text(REVISION.format(doc=doc, revision=revision, down=down, body=body))
        down = revision
    return ScriptDirectory(str(REVISIONS_DIR), version_locations=[str(REVISIONS_DIR / "versions"), str(folder)])
