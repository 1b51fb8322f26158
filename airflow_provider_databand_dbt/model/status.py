"""Run and node statuses, once: dbt Cloud's numeric run codes, their labels, and what each status means.

Every layer (collector, store, CLI, web, monitor) asks these predicates instead of restating sets of
strings, so "finished", "failed" and a status's colour mean the same thing everywhere.
"""

from __future__ import annotations

import enum
from typing import Optional


class RunStatus(enum.IntEnum):
    """dbt Cloud's numeric run (and step) status."""

    QUEUED = 1
    STARTING = 2
    RUNNING = 3
    SUCCESS = 10
    ERROR = 20
    CANCELLED = 30

    @property
    def label(self) -> str:
        """The name used in reports, the store and the CLI (``success``, ``error``...)."""
        return self.name.lower()

    @property
    def is_terminal(self) -> bool:
        return self >= RunStatus.SUCCESS

    @classmethod
    def from_label(cls, label: str) -> RunStatus:
        return cls[label.upper()]


RUN_LABELS = tuple(s.label for s in RunStatus)
TERMINAL_LABELS = frozenset(s.label for s in RunStatus if s.is_terminal)


def status_label(code: int | None) -> str:
    """Report label for a numeric status; unknown codes become ``unknown`` instead of failing."""
    if code is None:  # RunStatus(None) raises ValueError, which ends in "unknown" below
        return "unknown"
    try:
        return RunStatus(code).label
    except ValueError:
        return "unknown"


def is_terminal(run_status: Optional[str]) -> bool:
    """Whether a run (or step) status label means it has finished: success, error or cancelled."""
    return run_status in TERMINAL_LABELS


# Node statuses as dbt writes them in run_results.json.
NODE_FAILED = frozenset({"error", "fail", "runtime error"})
"""Something went wrong with the node (``warn`` is not a failure)."""
NODE_ERRORED = frozenset({"error", "runtime error"})
"""The node could not run at all (as opposed to a test that ran and failed)."""
NODE_OK = frozenset({"success", "pass"})


def is_failed_node(node_status: Optional[str]) -> bool:
    return node_status in NODE_FAILED


# Failures first, then what needs a look, then the rest: the order of node tables in the CLI and the web.
NODE_STATUS_RANK = {"error": 0, "runtime error": 0, "fail": 1, "warn": 2, "skipped": 3}
NODE_STATUS_RANK_OTHER = 9


def node_status_rank(node_status: Optional[str]) -> int:
    return NODE_STATUS_RANK.get(node_status or "", NODE_STATUS_RANK_OTHER)


# One tone per meaning (ok, bad, warn, muted, active), for runs, steps and nodes alike.
STATUS_TONE = {
    "success": "ok",
    "pass": "ok",
    "error": "bad",
    "fail": "bad",
    "runtime error": "bad",
    "warn": "warn",
    "skipped": "muted",
    "cancelled": "muted",
    "queued": "active",
    "starting": "active",
    "running": "active",
}


def status_tone(status: Optional[str]) -> str:
    """The tone (ok, bad, warn, muted, active) of a run, step or node status; unknown ones are muted."""
    return STATUS_TONE.get((status or "").lower(), "muted")
