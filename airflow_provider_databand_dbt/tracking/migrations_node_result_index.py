"""Revision r0013: node results lose their ``(run_pk, status)`` index, one B-tree fewer per stored result.

Every per-run query is served by the unique ``(run_pk, step_index, node_id)`` index as well (checked with
the query plans on SQLite and PostgreSQL), and a save of a large run spent a tenth of its time keeping the
dropped index. Nothing but the index is touched, so nothing is lost.
"""

from __future__ import annotations

from sqlalchemy.engine import Connection

RUN_STATUS_INDEX = "ix_dbt_tracking_node_result_run_status"


def upgrade_node_result_index(conn: Connection) -> None:
    """Drop ``ix_dbt_tracking_node_result_run_status`` inside the caller's transaction (same text on both backends)."""
    conn.exec_driver_sql(f"DROP INDEX IF EXISTS {RUN_STATUS_INDEX}")
