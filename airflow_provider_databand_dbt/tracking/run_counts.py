"""Each pipeline's run count, stored on its row and kept exact by the write that adds (or moves) a run.

The Pipelines page showed counts the web view kept in memory and topped up from new row ids: wrong
for up to 10 minutes after a run was committed out of id order on PostgreSQL, and counted again by
each web process. The count now changes in the same transaction as the run row, so every reader sees
exactly the runs its snapshot holds, at the cost of reading one column.
"""

from __future__ import annotations

from typing import Optional

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from airflow_provider_databand_dbt.tracking.schema import pipelines, runs


def count_move(conn: Connection, before: Optional[int], after: Optional[int]) -> None:
    """A run left pipeline ``before`` (None: it was new or had none) for pipeline ``after``."""
    if before == after:
        return
    for pipeline_pk, step in ((before, -1), (after, 1)):
        if pipeline_pk is not None:
            conn.execute(
                pipelines.update().where(pipelines.c.id == pipeline_pk).values(run_count=pipelines.c.run_count + step)
            )


def recount(conn: Connection) -> None:
    """Set every pipeline's count from its runs (after editing runs by hand, or loading them in bulk)."""
    _recount(conn, pipelines, runs)


def _recount(conn: Connection, pipeline_table: sa.TableClause, run_table: sa.TableClause) -> None:
    counted = (
        sa.select(sa.func.count())
        .select_from(run_table)
        .where(run_table.c.pipeline_id == pipeline_table.c.id)
        .correlate(pipeline_table)
        .scalar_subquery()
    )
    conn.execute(pipeline_table.update().values(run_count=counted))


def upgrade_run_counts(conn: Connection) -> None:
    """Revision r0007: ``run_count`` on the pipeline table, counted once from the stored runs.

    The tables are named here with the columns this revision reads (frozen), so later changes to
    ``schema.py`` leave the revision as it was.
    """
    pipeline_table = sa.table("dbt_tracking_pipeline", sa.column("id"), sa.column("run_count"))
    run_table = sa.table("dbt_tracking_run", sa.column("pipeline_id"))
    conn.exec_driver_sql(f"ALTER TABLE {pipeline_table.name} ADD COLUMN run_count BIGINT NOT NULL DEFAULT 0")
    _recount(conn, pipeline_table, run_table)
