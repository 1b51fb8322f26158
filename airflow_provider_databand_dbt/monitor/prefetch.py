"""Collect a few runs ahead on worker threads while results are consumed strictly in order.

Storing stays on the syncer thread and in run id order (so the cursor can follow it), while the
slow part, waiting for dbt Cloud, overlaps for up to ``workers`` runs.
"""
from __future__ import annotations

import itertools
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable, Generic, Iterable, Iterator, Optional, TypeVar

T = TypeVar("T")
R = TypeVar("R")


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


def prefetch_in_order(func: Callable[[T], R], items: Iterable[T], workers: int,
                      thread_name: str = "collect") -> Iterator[tuple[T, Outcome[R]]]:
    """Yield ``(item, outcome)`` in the order of ``items``, computing up to ``2 * workers`` ahead.

    Closing the generator early (the consumer stops or fails) cancels what has not started; calls
    already running finish in the background and their results are dropped.
    """
    if workers <= 1:
        for item in items:
            yield item, _call(func, item)
        return
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=thread_name)
    iterator = iter(items)
    pending: deque[tuple[Any, Any]] = deque()
    try:
        for item in itertools.islice(iterator, 2 * workers):
            pending.append((item, pool.submit(_call, func, item)))
        while pending:
            item, future = pending.popleft()
            outcome = future.result()
            for following in itertools.islice(iterator, 1):
                pending.append((following, pool.submit(_call, func, following)))
            yield item, outcome
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
