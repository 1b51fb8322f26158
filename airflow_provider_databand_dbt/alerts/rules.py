"""The alert rules: given one finished run and its pipeline's history, what is wrong now and what is fine again.

Pure functions over ``alerts.facts``: no SQL, no clock. Each rule gives, per subject (the run, or one
node), either a :class:`Finding` (the condition holds in this run) or a clear verdict (it was checked
and does not hold); a subject the run says nothing about (a node that did not run, a statistic without
enough history) gets neither, so its open incident stays as it is. ``alerts.incidents`` turns the
verdicts into incident changes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Callable, Optional

import msgspec

from airflow_provider_databand_dbt.alerts.facts import NodeFacts, PipelineFacts
from airflow_provider_databand_dbt.alerts.notification import RuleName, Severity
from airflow_provider_databand_dbt.alerts.settings import RuleSettings
from airflow_provider_databand_dbt.alerts.stats import Bounds, bounds, verdict
from airflow_provider_databand_dbt.model.report import counted_rows
from airflow_provider_databand_dbt.model.status import NODE_FAILED, NODE_OK, RunStatus

SOURCE = "source"
SKIPPED = "skipped"
# A source freshness check's outcomes that need a look (dbt writes warn, error or runtime error).
_STALE = NODE_FAILED | {"warn"}
# Node types whose rows_affected means rows written (a test's is not).
_WRITES_ROWS = frozenset({"model", "seed", "snapshot"})

Subject = tuple[RuleName, Optional[int]]
"""(rule, node id): None for a run-level incident."""


class Finding(msgspec.Struct, frozen=True, kw_only=True):
    """A rule's condition holds for one subject in the evaluated run."""

    rule: RuleName
    node_id: Optional[int] = None
    severity: Severity
    title: str
    message: Optional[str] = None
    node_unique_id: Optional[str] = None
    node_name: Optional[str] = None
    resource_type: Optional[str] = None
    skipped_downstream: tuple[str, ...] = ()

    @property
    def subject(self) -> Subject:
        return (self.rule, self.node_id)


class Verdicts(msgspec.Struct, kw_only=True):
    """What the rules concluded about one run: conditions that hold, and subjects checked and found fine."""

    findings: list[Finding] = []
    clear: set[Subject] = set()


def evaluate(facts: PipelineFacts, settings: RuleSettings) -> Verdicts:
    """Every rule that is on, over one finished run."""
    result = Verdicts(findings=[], clear=set())
    checks: tuple[tuple[RuleName, Callable[[PipelineFacts, RuleSettings], Iterator[Finding | Subject]]], ...] = (
        ("run_failed", _run_failed),
        ("new_failure", _node_failures),
        ("source_freshness", _source_freshness),
        ("duration_regression", _duration_regressions),
        ("row_count_anomaly", _row_count_anomalies),
    )
    for rule, check in checks:
        if settings.is_on(rule):
            for item in check(facts, settings):
                if isinstance(item, Finding):
                    result.findings.append(item)
                else:
                    result.clear.add(item)
    return result


def _job(facts: PipelineFacts) -> str:
    return facts.pipeline.job_name or f"job {facts.pipeline.job_id}"


def _label(node: NodeFacts) -> str:
    return f"{node.resource_type or 'node'} {node.name or node.unique_id}"


def _node_finding(rule: RuleName, node: NodeFacts, severity: Severity, title: str, **extra) -> Finding:
    return Finding(
        rule=rule,
        node_id=node.node_id,
        severity=severity,
        title=title,
        node_unique_id=node.unique_id,
        node_name=node.name,
        resource_type=node.resource_type,
        **extra,
    )


def _run_failed(facts: PipelineFacts, settings: RuleSettings) -> Iterator[Finding | Subject]:
    run = facts.run
    if run.status == RunStatus.SUCCESS.label:
        yield ("run_failed", None)
        return
    cancelled = run.status == RunStatus.CANCELLED.label
    yield Finding(
        rule="run_failed",
        severity="warning" if cancelled else "error",
        title=f"Run {run.run_id} of {_job(facts)} {'was cancelled' if cancelled else 'failed'}",
        message=run.status_message,
    )


def _node_failures(facts: PipelineFacts, settings: RuleSettings) -> Iterator[Finding | Subject]:
    """A node (not a source: see the freshness rule) that fails; one that ran without failing is clear."""
    downstream = _skipped_downstream(facts.nodes)
    for node in facts.nodes:
        if node.resource_type == SOURCE and settings.is_on("source_freshness"):
            continue
        if node.status in NODE_FAILED:
            yield _node_finding(
                "new_failure",
                node,
                "error",
                f"{_label(node)} failed in {_job(facts)} (run {facts.run.run_id})",
                message=node.message,
                skipped_downstream=downstream(node.unique_id),
            )
        elif node.status != SKIPPED:
            yield ("new_failure", node.node_id)


def _source_freshness(facts: PipelineFacts, settings: RuleSettings) -> Iterator[Finding | Subject]:
    for node in facts.nodes:
        if node.resource_type != SOURCE:
            continue
        if node.status in _STALE:
            severity: Severity = "warning" if node.status == "warn" else "error"
            yield _node_finding(
                "source_freshness",
                node,
                severity,
                f"source {node.name or node.unique_id} freshness {node.status} in {_job(facts)}",
                message=node.message,
            )
        elif node.status in NODE_OK:
            yield ("source_freshness", node.node_id)


def _duration_regressions(facts: PipelineFacts, settings: RuleSettings) -> Iterator[Finding | Subject]:
    run = facts.run
    if run.status == RunStatus.SUCCESS.label and run.duration_seconds is not None:
        history = [
            r.duration_seconds
            for r in facts.earlier_runs
            if _ok_run(r.status) and r.duration_seconds and not facts.is_flagged("duration_regression", None, r.run_id)
        ]
        limits = bounds(history, k=settings.k, min_runs=settings.min_runs)
        if limits is not None:
            if verdict(run.duration_seconds, limits) and run.duration_seconds >= settings.min_duration_seconds:
                yield Finding(
                    rule="duration_regression",
                    severity="warning",
                    title=f"Run {run.run_id} of {_job(facts)} took {run.duration_seconds:.1f}s",
                    message=_above(run.duration_seconds, limits, settings, "s"),
                )
            else:
                yield ("duration_regression", None)
    for node in facts.nodes:
        if node.status not in NODE_OK or node.execution_time is None:
            continue
        earlier = facts.earlier_nodes.get(node.node_id, ())
        history = [
            n.execution_time
            for n in earlier
            if n.status in NODE_OK
            and n.execution_time is not None
            and not facts.is_flagged("duration_regression", node.node_id, n.run_id)
        ]
        limits = bounds(history, k=settings.k, min_runs=settings.min_runs)
        if limits is None:
            continue
        if verdict(node.execution_time, limits) and node.execution_time >= settings.min_duration_seconds:
            yield _node_finding(
                "duration_regression",
                node,
                "warning",
                f"{_label(node)} took {node.execution_time:.1f}s in {_job(facts)} (run {run.run_id})",
                message=_above(node.execution_time, limits, settings, "s"),
            )
        else:
            yield ("duration_regression", node.node_id)


def _row_count_anomalies(facts: PipelineFacts, settings: RuleSettings) -> Iterator[Finding | Subject]:
    """Rows affected above ``p95 * k`` or (``row_count_drop``) below ``p5 / k`` of the node's earlier runs."""
    for node in facts.nodes:
        rows = _rows(node)
        if node.resource_type not in _WRITES_ROWS or rows is None:
            continue
        earlier = facts.earlier_nodes.get(node.node_id, ())
        history = [
            value
            for n in earlier
            if (value := _rows(n)) is not None and not facts.is_flagged("row_count_anomaly", node.node_id, n.run_id)
        ]
        limits = bounds(history, k=settings.k, min_runs=settings.min_runs, with_lower=settings.row_count_drop)
        if limits is None or limits.upper <= 0:
            continue  # a node that never wrote a row has nothing to compare with
        direction = verdict(rows, limits)
        if direction is None:
            yield ("row_count_anomaly", node.node_id)
            continue
        yield _node_finding(
            "row_count_anomaly",
            node,
            "warning",
            f"{_label(node)} affected {int(rows)} rows in {_job(facts)} (run {facts.run.run_id})",
            message=_above(rows, limits, settings, " rows") if direction == "above" else _below(rows, limits, settings),
        )


def _ok_run(status: str) -> bool:
    return status == RunStatus.SUCCESS.label


def _rows(node: NodeFacts) -> Optional[float]:
    """The rows a node that ran wrote; None when it failed or its adapter did not count (-1 or nothing)."""
    rows = counted_rows(node.rows_affected)
    return float(rows) if rows is not None and node.status in NODE_OK else None


def _above(value: float, limits: Bounds, settings: RuleSettings, unit: str) -> str:
    return (
        f"{value:.1f}{unit} is above {limits.upper:.1f}{unit} "
        f"(95th percentile x {settings.k:g} of the last {limits.samples} runs)"
    )


def _below(value: float, limits: Bounds, settings: RuleSettings) -> str:
    return (
        f"{value:.0f} rows is below {limits.lower or 0:.0f} rows "
        f"(5th percentile / {settings.k:g} of the last {limits.samples} runs)"
    )


def _skipped_downstream(nodes: Iterable[NodeFacts]):
    """``downstream(unique_id)``: the skipped nodes that depend on it, directly or through other skipped nodes."""
    dependents: dict[str, list[str]] = {}
    skipped = set()
    for node in nodes:
        if node.status == SKIPPED:
            skipped.add(node.unique_id)
        for parent in node.depends_on:
            dependents.setdefault(parent, []).append(node.unique_id)

    def downstream(unique_id: str) -> tuple[str, ...]:
        found: list[str] = []
        seen = {unique_id}
        queue = [unique_id]
        while queue:
            for child in dependents.get(queue.pop(), ()):
                if child in skipped and child not in seen:
                    seen.add(child)
                    found.append(child)
                    queue.append(child)
        return tuple(sorted(found))

    return downstream
