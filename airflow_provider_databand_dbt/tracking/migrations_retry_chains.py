"""Revision r0008: each run remembers the run it retries, so retry chains can be shown and counted once."""

from __future__ import annotations

from sqlalchemy.engine import Connection

from airflow_provider_databand_dbt.tracking.schema import PREFIX

# Frozen here (not taken from schema.py) so the revision keeps its meaning when the table changes again.
_RUN_TABLE = f"{PREFIX}run"


def upgrade_retry_chains(conn: Connection) -> None:
    """Add ``retry_of_run_id`` (NULL for every stored run: their links are learnt when re-tracked) and its index.

    The index is partial: most runs retry nothing, and a full index of NULLs makes the planners' statistics
    say a lookup matches every run (SQLite then scans the table instead).
    """
    conn.exec_driver_sql(f"ALTER TABLE {_RUN_TABLE} ADD COLUMN retry_of_run_id BIGINT")
    conn.exec_driver_sql(
        f"CREATE INDEX ix_{PREFIX}run_retry_of ON {_RUN_TABLE} (retry_of_run_id) WHERE retry_of_run_id IS NOT NULL"
    )
