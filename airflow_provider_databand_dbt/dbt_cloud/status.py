"""dbt Cloud's numeric run and step statuses and their names in our reports."""
from __future__ import annotations

import enum


class RunStatus(enum.IntEnum):
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


TERMINAL_LABELS = frozenset(s.label for s in RunStatus if s.is_terminal)


def status_label(code: int | None) -> str:
    """Report label for a numeric status; unknown codes become ``unknown`` instead of failing."""
    if code is None:  # RunStatus(None) raises ValueError, which ends in "unknown" below
        return "unknown"
    try:
        return RunStatus(code).label
    except ValueError:
        return "unknown"
