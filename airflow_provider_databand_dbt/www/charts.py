"""Charts as inline SVG built on the server: sparklines, duration trends with failures marked, Gantt.

No script and no external asset: a page is readable as soon as it arrives, and in a screenshot.
Every text that comes from the store goes through ``escape``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Callable, Optional

from markupsafe import Markup, escape

from airflow_provider_databand_dbt.tracking.read.models import DurationPoint, TimedNode
from airflow_provider_databand_dbt.www.format import duration, short_time, status_tone

Link = Callable[[DurationPoint], str]


def _f(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def nice_step(span: float, target: int = 4) -> float:
    """A round tick spacing (1, 2 or 5 times a power of ten) giving about ``target`` ticks."""
    if span <= 0:
        return 1.0
    raw = span / target
    power = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        if raw <= factor * power:
            return factor * power
    return 10 * power


def _point_title(point: DurationPoint, noun: str) -> str:
    return (
        f"{noun} {point.run_id} · {point.status} · {duration(point.duration_seconds)} · {short_time(point.created_at)}"
    )


def sparkline(points: Sequence[DurationPoint], *, width: int = 140, height: int = 30) -> Markup:
    """Durations of the given runs (oldest first) as a line; failed runs as red dots."""
    values = [p.duration_seconds for p in points]
    known = [v for v in values if v is not None]
    if not known:
        return Markup('<span class="muted">no durations yet</span>')
    top = max(known) or 1.0
    pad = 3
    step = (width - 2 * pad) / max(len(points) - 1, 1)

    def y(value: float) -> float:
        return height - pad - (value / top) * (height - 2 * pad)

    coords = [(pad + i * step, y(v)) for i, v in enumerate(values) if v is not None]
    parts = [
        f'<svg class="spark" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="durations of the last {len(points)} runs">',
        '<polyline fill="none" class="spark-line" points="' + " ".join(f"{_f(x)},{_f(yy)}" for x, yy in coords) + '"/>',
    ]
    for i, point in enumerate(points):
        tone = status_tone(point.status)
        if tone in ("bad", "active") or i == len(points) - 1:
            cy = y(point.duration_seconds) if point.duration_seconds is not None else height - pad
            parts.append(
                f'<circle class="mark-{tone}" cx="{_f(pad + i * step)}" cy="{_f(cy)}" r="2.6">'
                f"<title>{escape(_point_title(point, 'run'))}</title></circle>"
            )
    parts.append("</svg>")
    return Markup("".join(parts))


def trend_chart(
    points: Sequence[DurationPoint],
    *,
    link: Optional[Link] = None,
    noun: str = "run",
    width: int = 1280,
    height: int = 240,
) -> Markup:
    """Durations over runs (oldest left); failed runs get a red mark and a faint band, others a dot."""
    if not points:
        return Markup('<p class="empty">Nothing to chart yet.</p>')
    left, right, top, bottom = 64, 16, 14, 30
    plot_w, plot_h = width - left - right, height - top - bottom
    known = [p.duration_seconds for p in points if p.duration_seconds is not None]
    tick = nice_step(max(known) if known else 1.0)
    y_max = tick * max(1, math.ceil((max(known) if known else 1.0) / tick))
    step = plot_w / max(len(points) - 1, 1)
    x_of = (lambda i: left + plot_w / 2) if len(points) == 1 else (lambda i: left + i * step)

    def y_of(value: float) -> float:
        return top + plot_h - (value / y_max) * plot_h

    parts = [
        f'<svg class="chart trend" width="100%" viewBox="0 0 {width} {height}" preserveAspectRatio="xMinYMin meet" '
        f'role="img" aria-label="{escape(noun)} duration trend, failed {escape(noun)}s marked in red">'
    ]
    value = 0.0
    while value <= y_max + 1e-9:
        yy = y_of(value)
        parts.append(f'<line class="grid" x1="{left}" x2="{width - right}" y1="{_f(yy)}" y2="{_f(yy)}"/>')
        parts.append(f'<text class="axis" x="{left - 8}" y="{_f(yy + 4)}" text-anchor="end">{duration(value)}</text>')
        value += tick
    for i, point in enumerate(points):
        if status_tone(point.status) == "bad":
            band = min(max(step * 0.6, 6), 24)
            parts.append(
                f'<rect class="fail-band" x="{_f(x_of(i) - band / 2)}" y="{top}" width="{_f(band)}" height="{plot_h}"/>'
            )
    segment: list[str] = []
    segments = []
    for i, point in enumerate(points):
        if point.duration_seconds is None:
            if segment:
                segments.append(segment)
            segment = []
            continue
        segment.append(f"{_f(x_of(i))},{_f(y_of(point.duration_seconds))}")
    if segment:
        segments.append(segment)
    for seg in segments:
        parts.append(f'<polyline class="trend-line" fill="none" points="{" ".join(seg)}"/>')
    for i, point in enumerate(points):
        tone = status_tone(point.status)
        cx = x_of(i)
        cy = y_of(point.duration_seconds) if point.duration_seconds is not None else top + plot_h
        title = f"<title>{escape(_point_title(point, noun))}</title>"
        if tone == "bad":
            mark = (
                f'<g class="mark-bad failed-mark"><circle cx="{_f(cx)}" cy="{_f(cy)}" r="5"/>'
                f'<path class="cross" d="M{_f(cx - 2.5)},{_f(cy - 2.5)}l5,5m0,-5l-5,5"/>{title}</g>'
            )
        else:
            mark = f'<circle class="mark-{tone}" cx="{_f(cx)}" cy="{_f(cy)}" r="3.2">{title}</circle>'
        parts.append(f'<a href="{escape(link(point))}">{mark}</a>' if link else mark)
    labels = sorted({0, len(points) // 2, len(points) - 1})
    for i in labels:
        anchor = (
            "start" if i == 0 and len(points) > 1 else ("end" if i == len(points) - 1 and len(points) > 1 else "middle")
        )
        parts.append(
            f'<text class="axis" x="{_f(x_of(i))}" y="{height - 8}" text-anchor="{anchor}">'
            f"{escape(short_time(points[i].created_at))}</text>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def _lanes(nodes: Sequence[TimedNode], by_thread: bool) -> list[tuple[str, list[TimedNode]]]:
    """dbt's own threads when every node names one; otherwise pack bars into the fewest rows."""
    ordered = sorted(nodes, key=lambda n: (n.start, n.end))
    if by_thread:
        threads: dict[str, list[TimedNode]] = {}
        for node in ordered:
            threads.setdefault(node.thread_id, []).append(node)
        return list(threads.items())
    lanes: list[list[TimedNode]] = []
    ends: list[float] = []
    for node in ordered:
        for i, end in enumerate(ends):
            if node.start >= end:
                lanes[i].append(node)
                ends[i] = node.end
                break
        else:
            lanes.append([node])
            ends.append(node.end)
    return [(f"lane {i + 1}", lane) for i, lane in enumerate(lanes)]


def gantt(
    nodes: Sequence[TimedNode], *, link: Optional[Callable[[str], str]] = None, width: int = 1280
) -> Optional[Markup]:
    """Node executions of one step on their threads (dbt's thread names as lanes); None when none is timed."""
    timed = [n for n in nodes if n.start is not None and n.end is not None]
    if not timed:
        return None
    t0 = min(n.start for n in timed)
    span = max(max(n.end for n in timed) - t0, 0.001)
    lanes = _lanes(timed, by_thread=all(n.thread_id for n in timed))
    label_w, right, lane_h, gap, axis_h = 130, 16, 16, 4, 22
    plot_w = width - label_w - right
    scale = plot_w / span
    height = len(lanes) * (lane_h + gap) + axis_h + 4
    parts = [
        f'<svg class="chart gantt" width="100%" viewBox="0 0 {width} {height}" preserveAspectRatio="xMinYMin meet" '
        f'role="img" aria-label="timeline of {len(timed)} node executions">'
    ]
    tick = nice_step(span, 6)
    value = 0.0
    while value <= span + 1e-9:
        x = label_w + value * scale
        parts.append(f'<line class="grid" x1="{x:.1f}" x2="{x:.1f}" y1="0" y2="{height - axis_h}"/>')
        parts.append(f'<text class="axis" x="{x:.1f}" y="{height - 6}" text-anchor="middle">+{duration(value)}</text>')
        value += tick
    for lane_index, (label, lane) in enumerate(lanes):
        y = lane_index * (lane_h + gap) + 2
        parts.append(
            f'<text class="lane-label" x="{label_w - 8}" y="{y + lane_h - 4}" text-anchor="end">'
            f"{escape(str(label)[:20])}</text>"
        )
        for node in lane:
            start = node.start - t0
            length = node.end - node.start
            bar = (
                f'<rect class="bar bar-{status_tone(node.status)}" x="{label_w + start * scale:.1f}" y="{y}" '
                f'width="{max(length * scale, 1.5):.1f}" height="{lane_h}" rx="2"><title>{escape(node.name)} '
                f"({escape(node.resource_type)}) · {escape(node.status)} · {duration(length)} · starts "
                f"+{duration(start)}</title></rect>"
            )
            parts.append(f'<a href="{escape(link(node.unique_id))}">{bar}</a>' if link else bar)
    parts.append("</svg>")
    return Markup("".join(parts))
