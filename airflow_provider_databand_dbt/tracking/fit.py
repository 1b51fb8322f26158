"""Fit a report's values into the store's columns, so one hostile value never makes a whole run unstorable.

What the database cannot hold is changed as little as possible and said in the run's ``notes``:
NUL bytes are removed on PostgreSQL (its text types reject them), lone surrogates are replaced,
integers beyond 64 bits and non-finite floats become null, timestamps that cannot be converted to
UTC (year 1 with an offset) or read back in every time zone become null, a step index beyond 32
bits drops that step, and the few indexed columns with a length (node unique_id, statuses) are
shortened (a unique_id keeps a hash of its full text, so two long ids never collide). Everything
else is TEXT and kept whole.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from datetime import datetime, timezone
from typing import Any, Optional

import msgspec

from airflow_provider_databand_dbt.model.report import ArtifactMissing, NodeResult, RunReport, StepReport

INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1
INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1
UNIQUE_ID_MAX_CHARS = 1024
# PostgreSQL refuses btree index entries over ~2700 bytes; unique_id is in two indexes.
UNIQUE_ID_MAX_BYTES = 2000
STATUS_MAX_CHARS = 32
# A timestamp this close to datetime.min/max can overflow when a reader converts it to its time zone.
OLDEST = datetime(2, 1, 1, tzinfo=timezone.utc)
NEWEST = datetime(9998, 12, 31, tzinfo=timezone.utc)


_RUN_TEXTS = (
    "job_name",
    "project_name",
    "environment_name",
    "status_message",
    "trigger_cause",
    "git_branch",
    "git_sha",
    "dbt_version",
    "url",
)
_RUN_IDS = ("job_id", "project_id", "environment_id")
_RUN_TIMES = ("created_at", "started_at", "finished_at", "collected_at")
_STEP_TEXTS = ("name", "command")
_STEP_TIMES = ("started_at", "finished_at")
_NODE_TEXTS = (
    "name",
    "resource_type",
    "message",
    "materialization",
    "package_name",
    "code_hash",
    "thread_id",
    "database",
    "schema",
    "alias",
)
_NODE_INTS = ("rows_affected", "failures")
_NODE_TIMES = ("started_at", "finished_at")


def fit_report(report: RunReport, dialect: str) -> RunReport:
    """The report with every value storable in ``dialect`` (sqlite/postgresql), ``notes`` saying what changed.

    Returns ``report`` itself when nothing needed changing (the common case; no copy is made).
    """
    fitter = _Fitter(strip_nul=dialect == "postgresql")
    changes = fitter.fields(report, "run", _RUN_TEXTS, (), _RUN_TIMES)
    for name in _RUN_IDS:
        value = getattr(report, name)
        if value is not None and not INT64_MIN <= value <= INT64_MAX:
            changes[name] = fitter.note(None, f"run {name} beyond the 64-bit integer range, stored as null")
    _keep(changes, "status", report.status, fitter.short(report.status, "run status"))
    _keep(
        changes,
        "duration_seconds",
        report.duration_seconds,
        fitter.number(report.duration_seconds, "run duration_seconds"),
    )
    steps = [fitted for step in report.steps if (fitted := fitter.step(step)) is not None]
    if any(new is not old for new, old in zip(steps, report.steps)) or len(steps) != len(report.steps):
        changes["steps"] = steps
    if not changes and not fitter.counts:
        return report
    return msgspec.structs.replace(report, **changes, notes=merge_notes(report.notes, fitter.notes()))


def _keep(changes: dict[str, Any], name: str, old: Any, new: Any) -> None:
    """Record a fitted value only when fitting replaced it: fitters return the value itself when it fits."""
    if new is not old:
        changes[name] = new


def nodes_may_need_fitting(nodes: list[NodeResult], strip_nul: bool) -> bool:
    """A fast screen (one C-speed encoding, then a few checks column by column) so clean runs skip the fitting.

    False means no node has anything to fit; True (including false alarms) sends them through ``_Fitter.node``.
    """
    if not nodes:
        return False
    try:
        # Lone surrogates make the encoder raise; NUL bytes show as \u0000.
        encoded = msgspec.json.encode(nodes)
    except (UnicodeEncodeError, msgspec.EncodeError, OverflowError):
        return True
    if strip_nul and b"\\u0000" in encoded:
        return True
    statuses = {node.status for node in nodes}
    if (
        max(map(len, statuses)) > STATUS_MAX_CHARS
        or max(len(node.unique_id) for node in nodes) > UNIQUE_ID_MAX_BYTES // 4
    ):
        return True
    # A sum is finite only when every term is (a huge sum is a false alarm).
    if not math.isfinite(sum(time for node in nodes if (time := node.execution_time) is not None)):
        return True
    for name in _NODE_INTS:
        values = [value for node in nodes if (value := getattr(node, name)) is not None]
        if values and not (INT64_MIN <= min(values) and max(values) <= INT64_MAX):
            return True
    return not all(_times_in_range([getattr(node, name) for node in nodes]) for name in _NODE_TIMES)


def _times_in_range(values: list[Optional[datetime]]) -> bool:
    """Whether every timestamp is aware and within what ``_Fitter.time`` keeps (None counts as in range)."""
    present = [value for value in values if value is not None]
    try:
        return not present or (OLDEST <= min(present) and max(present) <= NEWEST)
    except (TypeError, OverflowError):  # naive among aware values, or an offset at the edge of the calendar
        return False


def merge_notes(old: Optional[list[str]], new: Optional[list[str]]) -> list[str]:
    """Both lists in order, each note once (re-collecting a run must not repeat its notes)."""
    return list(dict.fromkeys([*(old or []), *(new or [])]))


class _Fitter:
    """Fits values one by one and counts each kind of change, with the first place it happened."""

    def __init__(self, *, strip_nul: bool) -> None:
        self.strip_nul = strip_nul
        self.counts: Counter[str] = Counter()
        self.examples: dict[str, str] = {}

    def note(self, value: Any, what: str, where: str = "") -> Any:
        self.counts[what] += 1
        if where and what not in self.examples:
            self.examples[what] = where.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")
        return value

    def notes(self) -> list[str]:
        notes = []
        for what, count in self.counts.items():
            details = [f"{count} values"] if count > 1 else []
            details += [f"e.g. {self.examples[what]}"] if what in self.examples else []
            notes.append(f"{what} ({', '.join(details)})" if details else what)
        return notes

    def fields(self, obj: Any, kind: str, texts: tuple, ints: tuple, times: tuple, where: str = "") -> dict:
        changes: dict[str, Any] = {}
        for name in texts:
            value = getattr(obj, name)
            _keep(changes, name, value, self.text(value, f"{kind} {name}", where))
        for name in ints:
            value = getattr(obj, name)
            if value is not None and not INT64_MIN <= value <= INT64_MAX:
                changes[name] = self.note(None, f"{kind} {name} beyond the 64-bit integer range, stored as null", where)
        for name in times:
            stamp = getattr(obj, name)
            _keep(changes, name, stamp, self.time(stamp, f"{kind} {name}", where))
        return changes

    def text(self, value: Optional[str], what: str, where: str = "") -> Optional[str]:
        if value is None:
            return None
        fitted = value
        if self.strip_nul and "\x00" in fitted:
            fitted = self.note(
                fitted.replace("\x00", ""), f"NUL bytes removed from {what} (PostgreSQL cannot store them)", where
            )
        if not fitted.isascii():
            try:
                fitted.encode("utf-8")
            except UnicodeEncodeError:
                fitted = self.note(
                    fitted.encode("utf-8", "replace").decode("utf-8"),
                    f"invalid characters (lone surrogates) replaced in {what}",
                    where,
                )
        return fitted

    def texts(self, values: list[str], what: str, where: str) -> list[str]:
        fitted = [self.text(value, what, where) or "" if isinstance(value, str) else str(value) for value in values]
        return values if all(new is old for new, old in zip(fitted, values)) else fitted

    def short(self, value: str, what: str, where: str = "", limit: int = STATUS_MAX_CHARS) -> str:
        fitted = self.text(value, what, where) or ""
        if len(fitted) > limit:
            fitted = self.note(fitted[:limit], f"{what} longer than {limit} characters, shortened", where)
        return fitted if fitted != value else value

    def time(self, value: Optional[datetime], what: str, where: str = "") -> Optional[datetime]:
        if value is None:
            return None
        try:
            utc = value.astimezone(timezone.utc) if value.tzinfo else value.replace(tzinfo=timezone.utc)
        except OverflowError:
            return self.note(None, f"{what} out of the representable date range, stored as null", where)
        if not OLDEST <= utc <= NEWEST:
            return self.note(None, f"{what} out of the representable date range, stored as null", where)
        return value

    def number(self, value: Optional[float], what: str, where: str = "") -> Optional[float]:
        if value is None or math.isfinite(value):
            return value
        return self.note(None, f"{what} not a finite number, stored as null", where)

    def step(self, step: StepReport) -> Optional[StepReport]:
        where = f"step {step.index}"
        if not INT32_MIN <= step.index <= INT32_MAX:
            return self.note(None, "step index beyond the 32-bit integer range, step not stored", where)
        changes = self.fields(step, "step", _STEP_TEXTS, (), _STEP_TIMES, where)
        _keep(changes, "status", step.status, self.short(step.status, "step status", where))
        _keep(
            changes,
            "duration_seconds",
            step.duration_seconds,
            self.number(step.duration_seconds, "step duration_seconds", where),
        )
        missing = [self.missing(item, where) for item in step.artifacts_missing]
        if any(new is not old for new, old in zip(missing, step.artifacts_missing)):
            changes["artifacts_missing"] = missing
        if nodes_may_need_fitting(step.nodes, self.strip_nul):
            nodes = [self.node(node) for node in step.nodes]
            if any(new is not old for new, old in zip(nodes, step.nodes)):
                changes["nodes"] = nodes
        return msgspec.structs.replace(step, **changes) if changes else step

    def missing(self, item: ArtifactMissing, where: str) -> ArtifactMissing:
        artifact = self.text(item.artifact, "missing artifact name", where) or ""
        reason = self.text(item.reason, "missing artifact reason", where) or ""
        if artifact is item.artifact and reason is item.reason:
            return item
        return ArtifactMissing(artifact=artifact, reason=reason)

    def node(self, node: NodeResult) -> NodeResult:
        where = node.unique_id[:200]
        changes = self.fields(node, "node", _NODE_TEXTS, _NODE_INTS, _NODE_TIMES, where)
        _keep(changes, "unique_id", node.unique_id, self.unique_id(node.unique_id))
        _keep(changes, "status", node.status, self.short(node.status, "node status", where))
        _keep(
            changes,
            "execution_time",
            node.execution_time,
            self.number(node.execution_time, "node execution_time", where),
        )
        for name in ("depends_on", "tags"):
            values = getattr(node, name)
            _keep(changes, name, values, self.texts(values, f"node {name}", where))
        return msgspec.structs.replace(node, **changes) if changes else node

    def unique_id(self, value: str) -> str:
        where = value[:200]
        fitted = self.text(value, "node unique_id", where) or ""
        if len(fitted) > UNIQUE_ID_MAX_CHARS or len(fitted.encode("utf-8")) > UNIQUE_ID_MAX_BYTES:
            digest = hashlib.sha256(fitted.encode("utf-8")).hexdigest()[:16]
            head = fitted[: UNIQUE_ID_MAX_CHARS - 17].encode("utf-8")[: UNIQUE_ID_MAX_BYTES - 17]
            fitted = self.note(
                f"{head.decode('utf-8', 'ignore')}~{digest}",
                f"node unique_id longer than {UNIQUE_ID_MAX_CHARS} characters or {UNIQUE_ID_MAX_BYTES} bytes, "
                "shortened with a hash of the full id",
                where,
            )
        return fitted if fitted != value else value
