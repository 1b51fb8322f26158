"""Collect a few runs ahead on worker threads while results are consumed strictly in order.

Storing stays on the syncer thread and in run id order (so the cursor can follow it), while the
slow part, waiting for dbt Cloud, overlaps for up to ``workers`` runs.

Memory bound: at most ``workers`` runs are collected or waiting to be stored at any time (the next
one starts only once the consumer has stored the previous one), so a catch-up of any number of big
runs peaks at about ``workers`` x the peak of collecting one run.

Workers are daemon threads, one per run: a request stuck on a host that never finishes answering
can be abandoned when the monitor stops (a thread pool's workers would hold the process at exit).
"""

from __future__ import annotations

import itertools
import threading
from collections import deque
from collections.abc import Generator, Iterable
from dataclasses import dataclass
from typing import Callable, Generic, Optional, TypeVar

T = TypeVar("T")
R = TypeVar("R")

# How often a consumer waiting for a run checks whether the monitor is stopping.
STOP_POLL_SECONDS = 0.1


@dataclass(frozen=True)
class Outcome(Generic[R]):
    """A worker's result, or the exception it raised (the consumer decides what an error costs)."""

    value: Optional[R] = None
    error: Optional[BaseException] = None


def _call(func: Callable[[T], R], item: T) -> Outcome[R]:
    try:
        return Outcome(value=func(item))
    except Exception as exc:  # handed to the consumer, which re-raises what it cannot handle
        return Outcome(error=exc)


class _Job(Generic[T, R]):
    """One item computed on its own daemon thread."""

    def __init__(self, func: Callable[[T], R], item: T, name: str) -> None:
        self.item = item
        self.outcome: Optional[Outcome[R]] = None
        self.done = threading.Event()
        self._func = func
        threading.Thread(target=self._run, name=name, daemon=True).start()

    def _run(self) -> None:
        self.outcome = _call(self._func, self.item)
        self.done.set()


def prefetch_in_order(
    func: Callable[[T], R],
    items: Iterable[T],
    workers: int,
    thread_name: str = "collect",
    stop: Optional[threading.Event] = None,
) -> Generator[tuple[T, Outcome[R]], None, None]:
    """Yield ``(item, outcome)`` in the order of ``items``, computing up to ``workers`` at once.

    When ``stop`` is set while waiting for a result, the generator ends: calls still running are
    abandoned (their results are dropped). Closing the generator early does the same.
    """
    iterator = iter(items)
    pending: deque[_Job[T, R]] = deque()
    counter = itertools.count(1)

    def start_next() -> bool:
        for item in itertools.islice(iterator, 1):
            pending.append(_Job(func, item, f"{thread_name}-{next(counter)}"))
            return True
        return False

    while len(pending) < max(1, workers) and start_next():
        pass
    while pending:
        job = pending[0]
        while not job.done.wait(STOP_POLL_SECONDS):
            if stop is not None and stop.is_set():
                return
        pending.popleft()
        assert job.outcome is not None
        yield job.item, job.outcome
        start_next()  # only after the consumer is done with the previous result: bounded memory
