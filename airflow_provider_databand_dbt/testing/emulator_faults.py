"""Failures the emulator can inject, and the log of requests it answered.

Tests use faults to prove the client retries, times out and reports errors properly, and
the request log to count how many calls a collection made.
"""

from __future__ import annotations

import collections
import re
import threading
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Generic, Protocol, TypeVar

FAULT_KINDS = ("status", "slow", "truncate", "corrupt", "drop", "drop_after")


@dataclass
class Fault:
    """A failure injected on requests whose path matches ``path_pattern``.

    :param path_pattern: regular expression searched in the URL path (no query string).
    :param kind: ``status`` answers ``status`` with an error envelope (and ``Retry-After``
        when ``retry_after`` is set); ``slow`` waits ``delay`` seconds then answers normally;
        ``truncate`` announces a longer body than it sends and closes; ``corrupt`` answers 200
        with invalid JSON; ``drop`` closes the connection without answering; ``drop_after`` processes
        the request (a trigger POST creates its run) and then closes without answering: a lost response.
    :param status: HTTP status for ``kind="status"``.
    :param retry_after: seconds for the ``Retry-After`` header.
    :param delay: seconds to wait for ``kind="slow"``.
    :param times: how many requests it hits before it is removed; None for every request.
    :param method: only requests with this HTTP method (any when None).
    """

    path_pattern: str
    kind: str = "status"
    status: int = 500
    retry_after: float | None = None
    delay: float = 0.0
    times: int | None = None
    method: str | None = None
    _regex: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"fault kind must be one of {', '.join(FAULT_KINDS)}, not {self.kind!r}")
        if self.kind == "status" and not 400 <= int(self.status) <= 599:
            raise ValueError(f"fault status must be an HTTP error status (400-599), not {self.status}")
        if self.times is not None and int(self.times) < 1:
            raise ValueError("fault times must be at least 1 (or None for every request)")
        self.status = int(self.status)
        self.delay = float(self.delay or 0.0)
        try:
            self._regex = re.compile(self.path_pattern)
        except re.error as exc:
            raise ValueError(f"path_pattern {self.path_pattern!r} is not a valid regular expression: {exc}") from None

    def matches(self, method: str, path: str) -> bool:
        if self.method and self.method.upper() != method.upper():
            return False
        return self._regex.search(path) is not None

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("_regex", None)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Fault:
        known = {"path_pattern", "kind", "status", "retry_after", "delay", "times", "method"}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown fault field(s): {', '.join(sorted(unknown))}")
        if "path_pattern" not in data:
            raise ValueError("a fault needs path_pattern (a regular expression on the URL path)")
        return cls(**data)


class _Countable(Protocol):
    times: int | None


F = TypeVar("F", bound=_Countable)


class FaultList(Generic[F]):
    """Active faults, first match wins; a fault with ``times`` is used up atomically (API and webhook faults)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[F] = []

    def add(self, fault: F) -> F:
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def take_first(self, matches: Callable[[F], bool]) -> F | None:
        """The first fault ``matches`` accepts, consuming one of its ``times``."""
        with self._lock:
            for fault in self._faults:
                if matches(fault):
                    if fault.times is not None:
                        fault.times -= 1
                        if fault.times <= 0:
                            self._faults.remove(fault)
                    return fault
        return None

    def __len__(self) -> int:
        with self._lock:
            return len(self._faults)

    def snapshot(self) -> list[F]:
        with self._lock:
            return list(self._faults)


class FaultBook(FaultList[Fault]):
    """The API faults in force."""

    def take(self, method: str, path: str) -> Fault | None:
        """The fault to apply to this request, consuming one of its ``times``."""
        return self.take_first(lambda fault: fault.matches(method, path))


@dataclass(frozen=True)
class RequestRecord:
    """One answered API request. ``query`` maps each parameter to its value (repeats joined by ``,``).

    ``status`` is the HTTP status sent, or 0 when the connection was dropped without an answer.
    """

    method: str
    path: str
    query: dict[str, str]
    status: int

    def as_dict(self) -> dict[str, Any]:
        return {"method": self.method, "path": self.path, "query": dict(self.query), "status": self.status}


class RequestLog:
    """Thread-safe, bounded log of API requests (control-plane calls are not recorded)."""

    def __init__(self, limit: int = 200_000) -> None:
        self._lock = threading.Lock()
        self._records: collections.deque[RequestRecord] = collections.deque(maxlen=limit)

    def add(self, record: RequestRecord) -> None:
        with self._lock:
            self._records.append(record)

    def clear(self) -> None:
        with self._lock:
            self._records.clear()

    def snapshot(self) -> list[RequestRecord]:
        with self._lock:
            return list(self._records)

    def __len__(self) -> int:
        with self._lock:
            return len(self._records)
