"""The statistics of the duration and row count rules: percentiles of a short history and the bounds they give."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Optional

import msgspec


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q`` quantile (0..1) of ``values``, estimated at position ``q * (n + 1)`` (Weibull, Hyndman-Fan type 6).

    With the 5 to 20 values the rules see, numpy's default ``q * (n - 1)`` (type 7) puts the 95th
    percentile inside the sample, under the distribution's own, and ordinary noise at a daily peak
    passed ``p95 * k`` (bench_alerts, 2,000 runs: duration precision 13/15 with type 7, 13/13 with
    type 6). Type 6 puts p95 between the two largest of 20 values, and at the largest below 19 values
    (positions outside the sample are clamped). Values the rules flagged before are left out of the
    history (``PipelineFacts.flagged``), so one regression does not raise the bar for the next.
    """
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    position = min(max(q * (len(ordered) + 1) - 1, 0.0), len(ordered) - 1.0)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


class Bounds(msgspec.Struct, frozen=True, kw_only=True):
    """What a value is compared with: above ``upper`` is a regression; below ``lower`` (when set) a drop."""

    upper: float
    lower: Optional[float] = None
    samples: int


def bounds(history: Sequence[float], *, k: float, min_runs: int, with_lower: bool = False) -> Optional[Bounds]:
    """``p95 * k`` (and ``p5 / k``) of ``history``, or None when it holds fewer than ``min_runs`` values."""
    if len(history) < min_runs:
        return None
    lower = percentile(history, 0.05) / k if with_lower else None
    return Bounds(upper=percentile(history, 0.95) * k, lower=lower, samples=len(history))


def verdict(value: Optional[float], limits: Optional[Bounds]) -> Optional[str]:
    """``above``, ``below`` or None (no verdict, or within bounds)."""
    if value is None or limits is None:
        return None
    if value > limits.upper:
        return "above"
    if limits.lower is not None and value < limits.lower:
        return "below"
    return None
