"""One node across runs: the Node history page, with a chart of its newest results and a trend verdict."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Optional

from sqlalchemy.engine import Connection

from airflow_provider_databand_dbt.model.status import NODE_FAILED, NODE_OK
from airflow_provider_databand_dbt.tracking.read import nodes
from airflow_provider_databand_dbt.tracking.read.models import DurationPoint, NodeHistory, NodeRun, NodeTrend
from airflow_provider_databand_dbt.tracking.read.runs import offset_of

TREND_POINTS = 200


def node_history(
    conn: Connection,
    unique_id: str,
    *,
    job_id: Optional[int] = None,
    account_id: Optional[int] = None,
    host: Optional[str] = None,
    page: int = 1,
    page_size: int = 50,
) -> NodeHistory:
    """One node across runs, newest first, with a chart of its newest results and a trend verdict.

    :param job_id: only runs of this dbt Cloud job (with ``account_id`` / ``host`` to narrow further).
    """
    total = nodes.count_history(conn, unique_id, job_id=job_id, account_id=account_id, host=host)

    def newest_first(limit: int, offset: int = 0) -> list[NodeRun]:
        return nodes.history(
            conn, unique_id, job_id=job_id, account_id=account_id, host=host, limit=limit, offset=offset
        )

    items = newest_first(page_size, offset_of(page, page_size))
    newest = items if page == 1 and total <= page_size else newest_first(TREND_POINTS)
    latest = newest[0] if newest else None
    chart = [
        DurationPoint(
            run_id=n.run_id,
            status=n.status,
            created_at=n.run_created_at,
            duration_seconds=n.execution_time,
            account_id=n.account_id,
            host=n.host,
        )
        for n in reversed(newest)
    ]
    return NodeHistory(
        unique_id=unique_id,
        name=latest.name if latest else None,
        resource_type=latest.resource_type if latest else None,
        items=items,
        total=total,
        page=page,
        page_size=page_size,
        trend=node_trend(newest),
        chart=chart,
    )


def node_trend(newest_first: Sequence[NodeRun]) -> NodeTrend:
    """Failing streak from the newest result back, and recent vs earlier median execution time."""
    trend = NodeTrend()
    for result in newest_first:
        if result.status in NODE_FAILED:
            trend.failing = True
            trend.failing_runs += 1
            trend.failing_since_run_id = result.run_id
            trend.failing_since = result.run_created_at
        elif result.status in NODE_OK:
            trend.last_ok_run_id = result.run_id
            trend.last_ok_at = result.run_created_at
            break
        elif trend.failing_runs == 0:
            continue  # warn/skipped at the head: look further back for the last clear outcome
        else:
            break
    timed = [r.execution_time for r in newest_first if r.execution_time is not None and r.status in NODE_OK]
    if len(timed) >= 6:
        recent_size = min(10, len(timed) // 2)
        recent = statistics.median(timed[:recent_size])
        earlier = statistics.median(timed[recent_size : recent_size + 20])
        trend.recent_median_seconds = recent
        trend.earlier_median_seconds = earlier
        trend.slowdown_ratio = recent / earlier if earlier > 0 else None
    return trend
