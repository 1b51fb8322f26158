"""Plain-text rendering of tracked runs for the terminal (no colours, stable for grep and logs).

Everything that came from dbt Cloud goes through :func:`escape_controls`, so a name cannot send escape
sequences to the terminal; times are UTC and say so.
"""

from __future__ import annotations

import re
import shutil
import textwrap
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Optional

from airflow_provider_databand_dbt.model.report import NodeResult, RunReport, StepReport, counted_rows
from airflow_provider_databand_dbt.model.source import TrackingSource
from airflow_provider_databand_dbt.model.status import node_status_rank
from airflow_provider_databand_dbt.safe_text import escape_controls

if TYPE_CHECKING:
    from airflow_provider_databand_dbt.tracking.read.models import TriggeredBy

# Longer or multi-line node messages are printed whole under their row instead of in the column.
MESSAGE_WIDTH = 60
MESSAGE_INDENT = "    "
# A line of ^ or ~ under the code a compiler complains about: never wrapped, nor is the line above it.
_CARET_LINE = re.compile(r"\s*[\^~]+[\s\^~]*")


def table(
    headers: Sequence[str], rows: Iterable[Sequence[object]], details: Optional[Sequence[Sequence[str]]] = None
) -> str:
    """Left-aligned columns separated by two spaces; ``None`` shows as ``-``.

    :param details: for each row, lines printed under it as they are (e.g. a whole error message).
    """
    cells = [[_cell(value) for value in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in cells:
        widths = [max(w, len(c)) for w, c in zip(widths, row)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip()]
    for index, row in enumerate(cells):
        lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())
        if details is not None:
            lines.extend(details[index])
    return "\n".join(lines)


def _cell(value: object) -> str:
    if value is None or value == "":
        return "-"
    if isinstance(value, datetime):
        return utc_time(value)
    if isinstance(value, float):
        return f"{value:.2f}"
    return escape_controls(" ".join(str(value).split()))  # one line per cell, whatever the message held


def utc_time(value: datetime) -> str:
    """``2026-11-25 10:00:03 UTC``; the store keeps UTC, a naive value is taken as UTC."""
    if value.tzinfo is not None:
        value = value.astimezone(timezone.utc)
    return value.strftime("%Y-%m-%d %H:%M:%S UTC")


def message_lines(message: str, width: Optional[int] = None, indent: str = MESSAGE_INDENT) -> list[str]:
    """A whole message as indented lines wrapped to the terminal, keeping its line breaks and caret lines."""
    width = width or max(40, shutil.get_terminal_size((100, 24)).columns)
    lines = [line.rstrip() for line in message.expandtabs(4).splitlines()]
    out: list[str] = []
    for index, line in enumerate(lines):
        if not line.strip():
            continue
        text = escape_controls(line)
        pinned = _CARET_LINE.fullmatch(line) or (index + 1 < len(lines) and _CARET_LINE.fullmatch(lines[index + 1]))
        if pinned or len(indent) + len(text) <= width:
            out.append(indent + text)
            continue
        lead = indent + " " * (len(text) - len(text.lstrip()))
        out.extend(
            textwrap.wrap(
                text.strip(), width, initial_indent=lead, subsequent_indent=lead + "  ", break_on_hyphens=False
            )
        )
    return out


def short_message(message: Optional[str]) -> tuple[Optional[str], list[str]]:
    """What a node's message column shows, and the lines printed under the row when it does not fit."""
    if not message or not message.strip():
        return None, []
    text = message.strip()
    if "\n" not in text and len(text) <= MESSAGE_WIDTH:
        return text, []
    first = text.splitlines()[0].strip()
    return first[: MESSAGE_WIDTH - 3] + "...", message_lines(text)


def seconds(value: float | None, digits: int = 1) -> str | None:
    return None if value is None else f"{value:.{digits}f}s"


def summary_line(summary: dict[str, int]) -> str:
    if not summary:
        return "no node results"
    ordered = sorted(summary.items(), key=lambda item: (node_status_rank(item[0]), item[0]))
    return ", ".join(f"{count} {status}" for status, count in ordered)


def sort_failures_first(nodes: Iterable[tuple[int, NodeResult]]) -> list[tuple[int, NodeResult]]:
    return sorted(nodes, key=lambda item: (node_status_rank(item[1].status), item[0], item[1].unique_id))


def render_run(report: RunReport, sources: Sequence[TrackingSource] = (), trigger: Optional[TriggeredBy] = None) -> str:
    """The ``show`` view: header, steps, then every node result with failures first.

    :param trigger: the Airflow task the run's cause names, shown as "triggered by" (with its link).
    """
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
    if trigger is not None:
        header.append(f"  triggered by: {trigger.describe()}")
        if trigger.airflow_url:
            header.append(f"    airflow: {trigger.airflow_url}")
    header = [escape_controls(line) for line in header]  # names from dbt Cloud: one line each, no escapes
    if report.status_message:
        header += ["  message:", *message_lines(report.status_message)]
    if report.url:
        header.append(escape_controls(f"  url: {report.url}"))
    if report.retry_of_run_id is not None:  # dbt Cloud's rerun from failure
        header.append(f"  retry of run: {report.retry_of_run_id}")
    header.append(escape_controls(f"  nodes: {summary_line(report.summary)}"))
    for source in sources:
        header.append(escape_controls(f"  tracked by: {describe_source(source)}"))
    for note in report.notes:
        header.append(escape_controls(f"  note: {note}"))
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
        node_rows, details = [], []
        for step_index, node in nodes:
            column, below = short_message(node.message)
            node_rows.append(
                (
                    node.status,
                    node.resource_type,
                    node.name,
                    step_index,
                    seconds(node.execution_time, 2),
                    counted_rows(node.rows_affected),
                    column,
                )
            )
            details.append(below)
        parts.append(
            "Nodes (failures first)\n"
            + table(("status", "type", "name", "step", "time", "rows", "message"), node_rows, details)
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
