"""Plain-text rendering of tracked runs for the terminal (no colours, stable for grep and logs)."""
from __future__ import annotations

from datetime import datetime
from typing import Iterable, Sequence

from airflow_provider_databand_dbt.collector.report import NodeResult, RunReport, StepReport
from airflow_provider_databand_dbt.tracking.source import TrackingSource

# Failures first, then what needs a look, then the rest.
NODE_STATUS_ORDER = {"error": 0, "runtime error": 0, "fail": 1, "warn": 2, "skipped": 3}
MESSAGE_WIDTH = 80


def table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """Left-aligned columns separated by two spaces; ``None`` shows as ``-``."""
    cells = [[_cell(value) for value in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in cells:
        widths = [max(w, len(c)) for w, c in zip(widths, row)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in cells]
    return "\n".join(lines)


def _cell(value: object) -> str:
    if value is None or value == "":
        return "-"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, float):
        return f"{value:.2f}"
    return " ".join(str(value).split())  # one line per cell, whatever the message held


def seconds(value: float | None, digits: int = 1) -> str | None:
    return None if value is None else f"{value:.{digits}f}s"


def summary_line(summary: dict[str, int]) -> str:
    if not summary:
        return "no node results"
    ordered = sorted(summary.items(), key=lambda item: (NODE_STATUS_ORDER.get(item[0], 9), item[0]))
    return ", ".join(f"{count} {status}" for status, count in ordered)


def sort_failures_first(nodes: Iterable[tuple[int, NodeResult]]) -> list[tuple[int, NodeResult]]:
    return sorted(nodes, key=lambda item: (NODE_STATUS_ORDER.get(item[1].status, 9), item[0], item[1].unique_id))


def render_run(report: RunReport, sources: Sequence[TrackingSource] = ()) -> str:
    """The ``show`` view: header, steps, then every node result with failures first."""
    job = f"{report.job_name or 'unknown job'} (job {report.job_id})" if report.job_id else "unknown job"
    header = [
        f"Run {report.run_id}  {report.status.upper()}  {job}",
        f"  project: {report.project_name or 'unknown'}  environment: {report.environment_name or 'unknown'}"
        f"  account: {report.account_id}  host: {report.host}",
        f"  trigger: {report.trigger_cause or '-'}  branch: {report.git_branch or '-'}"
        f"  sha: {(report.git_sha or '-')[:12]}  dbt: {report.dbt_version or '-'}",
        f"  created: {_cell(report.created_at)}  started: {_cell(report.started_at)}"
        f"  finished: {_cell(report.finished_at)}  duration: {seconds(report.duration_seconds) or '-'}",
    ]
    if report.status_message:
        header.append(f"  message: {_cell(report.status_message)[:200]}")
    if report.url:
        header.append(f"  url: {report.url}")
    header.append(f"  nodes: {summary_line(report.summary)}")
    for source in sources:
        header.append(f"  tracked by: {describe_source(source)}")
    for note in report.notes:
        header.append(f"  note: {_cell(note)}")
    if not report.is_finished:
        header.append("  (run still in progress: collect it again later to complete it)")

    parts = ["\n".join(header)]
    if report.steps:
        step_rows = [
            (
                step.index,
                step.status,
                seconds(step.duration_seconds),
                step.command or step.name,
                len(step.nodes) if step.nodes else None,
                _step_problems(step) or None,
            )
            for step in report.steps
        ]
        parts.append("Steps\n" + table(("#", "status", "duration", "step", "nodes", "missing artifacts"), step_rows))
    else:
        parts.append("Steps: none reported by dbt Cloud")
    nodes = sort_failures_first((step.index, node) for step, node in report.iter_nodes())
    if nodes:
        node_rows = [
            (
                node.status,
                node.resource_type,
                node.name,
                step_index,
                seconds(node.execution_time, 2),
                node.rows_affected,
                _cell(node.message)[:MESSAGE_WIDTH] if node.message else None,
            )
            for step_index, node in nodes
        ]
        parts.append(
            "Nodes (failures first)\n"
            + table(("status", "type", "name", "step", "time", "rows", "message"), node_rows)
        )
    return "\n\n".join(parts)


def _step_problems(step: StepReport) -> str:
    """Missing artifacts, then a failed re-read (whose nodes are the ones stored earlier)."""
    problems = [f"{m.artifact}: {m.reason}" for m in step.artifacts_missing]
    failed = step.reread_failed
    if failed is not None:
        what = ", ".join(f"{m.artifact} ({m.reason})" for m in failed.artifacts_missing)
        problems.append(f"re-read failed {_cell(failed.at)}: {what}; nodes kept from an earlier collection")
    return "; ".join(problems)


def describe_source(source: TrackingSource) -> str:
    when = _cell(source.tracked_at)
    if source.kind == "airflow":
        where = f"airflow {source.dag_id}.{source.task_id} run {source.airflow_run_id} try {source.try_number}"
        if source.map_index not in (None, -1):
            where += f" map {source.map_index}"
    else:
        where = f"{source.kind} {source.name or ''}".rstrip()
    return f"{where} at {when}" + (f" on {source.hostname}" if source.hostname else "")
