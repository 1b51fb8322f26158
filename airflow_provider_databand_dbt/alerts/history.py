"""Read what the rules need about one stored run in four indexed queries, whatever the pipeline's size.

The run (by primary key), the pipeline's N finished runs before it (``ix_..._run_pipeline_status_created``),
the evaluated run's nodes with names and dependencies (one join, one run), and the slim node results
of the earlier runs (``uq_..._node_result_key`` by run). Never one query per node.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Optional

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from airflow_provider_databand_dbt.alerts.facts import NodeFacts, PipelineFacts, RunFacts
from airflow_provider_databand_dbt.alerts.notification import PipelineRef
from airflow_provider_databand_dbt.model.status import TERMINAL_LABELS
from airflow_provider_databand_dbt.tracking.schema import (
    alert_incidents,
    node_definitions,
    node_results,
    nodes,
    pipelines,
    runs,
)

# Rules whose statistics leave out the values they flagged before.
_STATISTICAL_RULES = ("duration_regression", "row_count_anomaly")

_RUN_COLUMNS = (
    runs.c.id.label("run_pk"),
    runs.c.run_id,
    runs.c.status,
    runs.c.duration_seconds,
    runs.c.created_at,
    runs.c.finished_at,
    runs.c.status_message,
    runs.c.url,
)


class StoredRun(RunFacts, frozen=True, kw_only=True, gc=False):
    """The evaluated run with the pipeline it belongs to (None: a run without a job is never evaluated)."""

    pipeline_id: Optional[int] = None


def stored_run(conn: Connection, run_pk: int) -> Optional[StoredRun]:
    """The run as stored now (a later tracker may have stored a newer state than the report in hand)."""
    row = conn.execute(sa.select(*_RUN_COLUMNS, runs.c.pipeline_id).where(runs.c.id == run_pk)).first()
    return None if row is None else StoredRun(**row._asdict())


def pipeline_facts(conn: Connection, run: StoredRun, window: int) -> PipelineFacts:
    """Everything the rules read about ``run`` and the ``window`` finished runs of its pipeline before it."""
    assert run.pipeline_id is not None
    pipeline = conn.execute(sa.select(pipelines).where(pipelines.c.id == run.pipeline_id)).one()
    earlier = _earlier_runs(conn, run, window)
    return PipelineFacts(
        pipeline_id=run.pipeline_id,
        pipeline=PipelineRef(
            host=pipeline.host,
            account_id=pipeline.account_id,
            job_id=pipeline.job_id,
            job_name=pipeline.name,
            project_name=pipeline.project_name,
            environment_name=pipeline.environment_name,
        ),
        run=RunFacts(**{f: getattr(run, f) for f in RunFacts.__struct_fields__}),
        nodes=_current_nodes(conn, run.run_pk),
        earlier_runs=earlier,
        earlier_nodes=_earlier_nodes(conn, {r.run_pk: r.run_id for r in earlier}),
        flagged=_flagged(conn, run.pipeline_id, min((r.run_id for r in earlier), default=run.run_id)),
    )


def _earlier_runs(conn: Connection, run: StoredRun, window: int) -> tuple[RunFacts, ...]:
    """The pipeline's last ``window`` finished runs before ``run`` in (created_at, run id) order, newest first."""
    if run.created_at is None:
        before = runs.c.run_id < run.run_id
    else:
        before = sa.or_(
            runs.c.created_at < run.created_at,
            sa.and_(runs.c.created_at == run.created_at, runs.c.run_id < run.run_id),
        )
    query = (
        sa.select(*_RUN_COLUMNS)
        .where(runs.c.pipeline_id == run.pipeline_id, runs.c.status.in_(sorted(TERMINAL_LABELS)), before)
        .order_by(runs.c.created_at.desc(), runs.c.run_id.desc())
        .limit(window)
    )
    return tuple(RunFacts(**row._asdict()) for row in conn.execute(query))


def _current_nodes(conn: Connection, run_pk: int) -> tuple[NodeFacts, ...]:
    """The run's nodes, each with its last step's result, names and dependencies."""
    query = (
        sa.select(
            node_results.c.node_id,
            node_results.c.status,
            node_results.c.execution_time,
            node_results.c.rows_affected,
            node_results.c.message,
            nodes.c.unique_id,
            node_definitions.c.name,
            node_definitions.c.resource_type,
            node_definitions.c.depends_on,
        )
        .select_from(
            node_results.join(nodes, nodes.c.id == node_results.c.node_id).join(
                node_definitions, node_definitions.c.id == node_results.c.definition_id
            )
        )
        .where(node_results.c.run_pk == run_pk)
        .order_by(node_results.c.step_index)
    )
    last: dict[int, NodeFacts] = {}
    for row in conn.execute(query):
        values = row._asdict()
        values["depends_on"] = tuple(str(d) for d in (values["depends_on"] or ()) if isinstance(d, str))
        last[row.node_id] = NodeFacts(**values)
    return tuple(last.values())


def _flagged(conn: Connection, pipeline_id: int, since_run_id: int) -> dict[tuple[str, Optional[int]], tuple]:
    """Run id spans of the pipeline's duration and row count incidents that reach ``since_run_id`` or later."""
    query = sa.select(
        alert_incidents.c.rule, alert_incidents.c.node_id, alert_incidents.c.first_run_id, alert_incidents.c.last_run_id
    ).where(
        alert_incidents.c.pipeline_id == pipeline_id,
        alert_incidents.c.rule.in_(_STATISTICAL_RULES),
        alert_incidents.c.last_run_id >= since_run_id,
    )
    spans: dict[tuple[str, Optional[int]], list[tuple[int, int]]] = defaultdict(list)
    for row in conn.execute(query):
        spans[(row.rule, row.node_id)].append((row.first_run_id, row.last_run_id))
    return {subject: tuple(items) for subject, items in spans.items()}


def _earlier_nodes(conn: Connection, run_ids: dict[int, int]) -> dict[int, tuple[NodeFacts, ...]]:
    """Per node id, its (last step's) results in the runs ``run_ids`` (pk -> run id, newest first), in that order."""
    run_pks = list(run_ids)
    if not run_pks:
        return {}
    query = (
        sa.select(
            node_results.c.run_pk,
            node_results.c.node_id,
            node_results.c.status,
            node_results.c.execution_time,
            node_results.c.rows_affected,
        )
        .where(node_results.c.run_pk.in_(run_pks))
        .order_by(node_results.c.step_index)
    )
    per_run: dict[int, dict[int, NodeFacts]] = defaultdict(dict)
    for row in conn.execute(query):
        per_run[row.run_pk][row.node_id] = NodeFacts(
            node_id=row.node_id,
            run_id=run_ids[row.run_pk],
            status=row.status,
            execution_time=row.execution_time,
            rows_affected=row.rows_affected,
        )
    history: dict[int, list[NodeFacts]] = defaultdict(list)
    for run_pk in run_pks:
        for node_id, facts in per_run.get(run_pk, {}).items():
            history[node_id].append(facts)
    return {node_id: tuple(items) for node_id, items in history.items()}
