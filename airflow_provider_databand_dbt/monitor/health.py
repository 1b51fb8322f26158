"""Is the monitor doing its job? Per-syncer liveness shared by the syncer threads and ``/health``.

A syncer is healthy while it had a successful iteration (or stored a run, during a long catch-up)
within ``3 * interval``. Standing by because another monitor holds its lease counts as success.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Optional

HEALTH_INTERVALS = 3

# A part of the monitor beside the syncers (the webhook queue): ``(healthy, body, reason when unhealthy)``.
Section = Callable[[], tuple[bool, dict[str, Any], Optional[str]]]


@dataclass
class SyncerState:
    """What ``/health`` knows about one syncer (times are ``time.monotonic()`` unless named ``*_wall``)."""

    started: float
    state: str = "starting"
    last_success: Optional[float] = None
    last_success_wall: Optional[float] = None
    last_progress: Optional[float] = None
    consecutive_failures: int = 0
    last_error: Optional[str] = None
    backoff_seconds: float = 0.0


class HealthBoard:
    """Thread-safe liveness of all syncers.

    :param interval: the polling interval; a syncer is stale after ``3 * interval`` without success.
    """

    def __init__(self, syncers: list[str], interval: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.window = HEALTH_INTERVALS * interval
        self._clock = clock
        self._lock = threading.Lock()
        now = clock()
        self._states = {name: SyncerState(started=now) for name in syncers}
        self._sections: dict[str, Section] = {}

    def add_section(self, key: str, section: Section) -> None:
        """Report ``section`` under ``key`` of the body; the monitor is unhealthy while it is."""
        with self._lock:
            self._sections[key] = section

    def success(self, syncer: str, *, standby: bool = False) -> None:
        with self._lock:
            s = self._states[syncer]
            s.last_success = self._clock()
            s.last_success_wall = time.time()
            s.consecutive_failures = 0
            s.backoff_seconds = 0.0
            s.state = "standby" if standby else "ok"

    def progress(self, syncer: str) -> None:
        """A run was stored: a long catch-up is alive even before its iteration completes."""
        with self._lock:
            self._states[syncer].last_progress = self._clock()

    def failure(self, syncer: str, error: str, backoff_seconds: float) -> None:
        with self._lock:
            s = self._states[syncer]
            s.consecutive_failures += 1
            s.last_error = error
            s.backoff_seconds = backoff_seconds
            s.state = "failing"

    def snapshot(self) -> tuple[bool, dict[str, Any]]:
        """``(healthy, body)``; the body is JSON-ready and says why when unhealthy."""
        now = self._clock()
        reasons = []
        syncers = {}
        with self._lock:
            for name, s in self._states.items():
                alive_at = max(t for t in (s.started, s.last_success, s.last_progress) if t is not None)
                stale = now - alive_at
                healthy = stale <= self.window
                if not healthy:
                    if s.last_success is None:
                        reason = f"syncer {name}: no successful iteration in {stale:.1f} s since start"
                    else:
                        reason = f"syncer {name}: last successful iteration {stale:.1f} s ago"
                    reason += f" (limit {self.window:g} s)"
                    if s.last_error:
                        reason += f", last error: {s.last_error}"
                    reasons.append(reason)
                syncers[name] = {
                    "healthy": healthy,
                    "state": s.state,
                    "last_success": _iso(s.last_success_wall),
                    "seconds_since_success": None if s.last_success is None else round(now - s.last_success, 3),
                    "consecutive_failures": s.consecutive_failures,
                    "last_error": s.last_error,
                    "backoff_seconds": round(s.backoff_seconds, 3),
                }
            sections = dict(self._sections)
        extra: dict[str, Any] = {}
        for key, section in sections.items():  # outside the lock: a section may read the store
            healthy, extra[key], why = section()
            if not healthy:
                reasons.append(why or f"{key}: unhealthy")
        ok = not reasons
        body: dict[str, Any] = {
            "status": "ok" if ok else "unhealthy",
            "window_seconds": self.window,
            "syncers": syncers,
            **extra,
        }
        if reasons:
            body["reason"] = "; ".join(reasons)
        return ok, body


def _iso(wall: Optional[float]) -> Optional[str]:
    return None if wall is None else datetime.fromtimestamp(wall, timezone.utc).isoformat()
