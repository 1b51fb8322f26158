"""Runs: lists (CLI, Runs and Pipeline pages, JSON API), lookups by dbt Cloud run id, the Run page header.

Every list sorts newest first by ``(created_at, run_id)``, the end of every run index of
``tracking/schema.py``, and filters through :class:`~.filters.RunFilter` (one date semantics).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any, Callable, Optional

import msgspec
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from airflow_provider_databand_dbt.model.attribution import attribution_from_cause
from airflow_provider_databand_dbt.model.report import ArtifactMissing, RereadFailure
from airflow_provider_databand_dbt.model.source import TrackingSource
from airflow_provider_databand_dbt.tracking.read import nodes
from airflow_provider_databand_dbt.tracking.read.chains import retry_chain
from airflow_provider_databand_dbt.tracking.read.columns import build, columns
from airflow_provider_databand_dbt.tracking.read.filters import RunFilter
from airflow_provider_databand_dbt.tracking.read.models import (
    RunDetail,
    RunMatch,
    RunRow,
    RunsPage,
    SourceRow,
    StepRow,
    TriggeredBy,
)
from airflow_provider_databand_dbt.tracking.schema import runs, sources, steps

NEWEST_FIRST = (runs.c.created_at.desc(), runs.c.run_id.desc())


def offset_of(page: int, page_size: int) -> int:
    return (max(page, 1) - 1) * page_size


def key_clauses(
    *,
    run_id: Optional[int] = None,
    account_id: Optional[int] = None,
    host: Optional[str] = None,
    job_id: Optional[int] = None,
    pipeline_pk: Optional[int] = None,
) -> list[sa.ColumnElement]:
    """WHERE clauses for the parts of a run's identity that are given."""
    given = (
        (runs.c.run_id, run_id),
        (runs.c.account_id, account_id),
        (runs.c.host, host or None),
        (runs.c.job_id, job_id),
        (runs.c.pipeline_id, pipeline_pk),
    )
    return [column == value for column, value in given if value is not None]


def count_runs(conn: Connection, clauses: Iterable[sa.ColumnElement] = ()) -> int:
    return conn.execute(sa.select(sa.func.count()).select_from(runs).where(*clauses)).scalar_one()


def runs_page(
    conn: Connection,
    *,
    pipeline_pk: Optional[int] = None,
    run_filter: Optional[RunFilter] = None,
    page: int = 1,
    page_size: int = 50,
    total: Optional[int] = None,
) -> RunsPage:
    """Runs newest first, optionally of one pipeline, filtered and paged (the Runs and Pipeline pages).

    :param total: how many runs match, when the caller already knows (else they are counted).
    """
    where = [*key_clauses(pipeline_pk=pipeline_pk)]
    if total is None:
        total = count_runs(conn, [*(run_filter.clauses() if run_filter else ()), *where])
    items = run_rows(conn, run_filter, clauses=where, limit=page_size, offset=offset_of(page, page_size))
    return RunsPage(items=items, total=total, page=page, page_size=page_size)


# The run table's columns of a listed run; the trackers come from the sources.
_RUN_ROW_COLUMNS = columns(runs, RunRow, skip=("trackers",), renamed={"run_pk": runs.c.id})


def run_rows(
    conn: Connection,
    run_filter: Optional[RunFilter] = None,
    *,
    clauses: Iterable[sa.ColumnElement] = (),
    limit: int,
    offset: int = 0,
) -> list[RunRow]:
    """Runs newest first with the trackers that saw them: ``TrackingStore.list_runs``, the CLI and the web lists."""
    query = (
        sa.select(*_RUN_ROW_COLUMNS)
        .where(*(run_filter.clauses() if run_filter else ()), *clauses)
        .order_by(*NEWEST_FIRST, runs.c.id.desc())
        .limit(max(0, int(limit)))
        .offset(max(0, int(offset)))
    )
    rows = conn.execute(query).all()
    kinds = trackers_of_runs(conn, [row.run_pk for row in rows])
    return [build(RunRow, row, trackers=kinds.get(row.run_pk, [])) for row in rows]


def trackers_of_runs(conn: Connection, run_pks: Iterable[int]) -> dict[int, list[str]]:
    """Kinds of tracker (airflow, monitor, cli, api) that saw each run."""
    run_pks = list(run_pks)
    found: dict[int, set[str]] = defaultdict(set)
    if run_pks:
        for run_pk, kind in conn.execute(
            sa.select(sources.c.run_pk, sources.c.kind).where(sources.c.run_pk.in_(run_pks)).distinct()
        ):
            found[run_pk].add(kind)
    return {pk: sorted(kinds) for pk, kinds in found.items()}


def find_runs(
    conn: Connection, run_id: int, *, account_id: Optional[int] = None, host: Optional[str] = None
) -> list[tuple[int, RunMatch]]:
    """``(run_pk, match)`` for every stored run with this dbt Cloud run id."""
    query = (
        sa.select(runs.c.id.label("run_pk"), *columns(runs, RunMatch))
        .where(*key_clauses(run_id=run_id, account_id=account_id, host=host))
        .order_by(runs.c.host, runs.c.account_id)
    )
    return [(row.run_pk, build(RunMatch, row, skip=("run_pk",))) for row in conn.execute(query)]


def find_run_pk(
    conn: Connection, run_id: int, account_id: Optional[int] = None, host: Optional[str] = None
) -> Optional[int]:
    """The row id of a tracked run; when several hosts or accounts share the run id, the most recently updated."""
    query = sa.select(runs.c.id).where(*key_clauses(run_id=run_id, account_id=account_id, host=host))
    return conn.execute(query.order_by(runs.c.updated_at.desc(), runs.c.id.desc()).limit(1)).scalar()


def updated_at(conn: Connection, run_pk: int):
    """When the run was last tracked: changes whenever its results may have."""
    return conn.execute(sa.select(runs.c.updated_at).where(runs.c.id == run_pk)).scalar()


def list_sources(conn: Connection, run_pk: int) -> list[TrackingSource]:
    """Who tracked the run, oldest sighting first."""
    query = (
        sa.select(*columns(sources, TrackingSource))
        .where(sources.c.run_pk == run_pk)
        .order_by(sources.c.tracked_at, sources.c.id)
    )
    return [build(TrackingSource, row) for row in conn.execute(query)]


def step_rows(conn: Connection, run_pk: int) -> list[sa.Row]:
    """The run's steps as stored, in order."""
    return list(conn.execute(sa.select(steps).where(steps.c.run_pk == run_pk).order_by(steps.c.step_index)))


def artifacts_missing(items) -> list[ArtifactMissing]:
    return [
        ArtifactMissing(artifact=str(item.get("artifact", "?")), reason=str(item.get("reason", "")))
        if isinstance(item, dict)
        else ArtifactMissing(artifact=str(item), reason="")
        for item in (items or [])
    ]


def reread_failed(value) -> Optional[RereadFailure]:
    return msgspec.convert(value, RereadFailure) if value else None


AirflowLink = Callable[[Any], Optional[str]]


def run_detail(conn: Connection, run_pk: int, *, airflow_link: Optional[AirflowLink] = None) -> RunDetail:
    """The run with the names it ran under, its steps (with node counts per status) and trackers."""
    header = columns(runs, RunDetail, skip=("steps", "sources", "triggered_by", "retry_chain"))
    run = conn.execute(sa.select(*header).where(runs.c.id == run_pk)).one()
    counts = nodes.status_counts_by_step(conn, run_pk)
    found_steps = [
        StepRow(
            index=s.step_index,
            name=s.name,
            command=s.command,
            status=s.status,
            started_at=s.started_at,
            finished_at=s.finished_at,
            duration_seconds=s.duration_seconds,
            artifacts_missing=artifacts_missing(s.artifacts_missing),
            reread_failed=reread_failed(s.reread_failed),
            node_counts=counts.get(s.step_index, {}),
        )
        for s in step_rows(conn, run_pk)
    ]
    found_sources = [SourceRow(**msgspec.structs.asdict(source)) for source in list_sources(conn, run_pk)]
    for source in found_sources:
        if airflow_link is not None and source.kind == "airflow":
            source.airflow_url = airflow_link(source)
    chain = retry_chain(conn, run.host, run.account_id, run.run_id, run.retry_of_run_id)
    return build(
        RunDetail,
        run,
        steps=found_steps,
        sources=found_sources,
        retry_chain=chain,
        triggered_by=triggered_by(run.trigger_cause, airflow_link),
    )


def triggered_by(cause: Optional[str], airflow_link: Optional[AirflowLink] = None) -> Optional[TriggeredBy]:
    """The Airflow task the run's cause names (parsed at read time, so runs stored earlier have it too)."""
    found = attribution_from_cause(cause)
    if found is None:
        return None
    link = airflow_link(found) if airflow_link is not None else None
    return TriggeredBy(**msgspec.structs.asdict(found), airflow_url=link)
