"""How values read on a page: durations, UTC times, status colours. Used as Jinja filters and by the charts."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Optional

from airflow_provider_databand_dbt.model.report import counted_rows
from airflow_provider_databand_dbt.model.status import status_tone

__all__ = ["aware", "duration", "status_tone"]


def aware(value: Optional[datetime]) -> Optional[datetime]:
    """Stored timestamps are UTC; SQLite hands them back naive, so make them aware again."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=timezone.utc)


def duration(seconds: Optional[float]) -> str:
    """``0.42s``, ``12.3s``, ``4m 05s``, ``2h 03m``; ``–`` when unknown."""
    if seconds is None:
        return "–"
    if seconds < 10:
        return f"{seconds:.2f}s"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def timestamp(value: Optional[datetime]) -> str:
    """``2026-11-25 10:00:03 UTC``: one unambiguous zone on every page."""
    value = aware(value)
    if value is None:
        return "–"
    return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def short_time(value: Optional[datetime]) -> str:
    """``11-25 10:00`` for dense tables and chart labels (UTC)."""
    value = aware(value)
    if value is None:
        return "–"
    return value.astimezone(timezone.utc).strftime("%m-%d %H:%M")


def ago(value: Optional[datetime], now: Optional[datetime] = None) -> str:
    """``5 min ago``, ``3 h ago``, ``12 days ago``: how fresh a run is at a glance."""
    value = aware(value)
    if value is None:
        return ""
    seconds = ((now or datetime.now(timezone.utc)) - value).total_seconds()
    if seconds < 0:
        return "just now"
    for size, unit in ((86400, "days"), (3600, "h"), (60, "min")):
        if seconds >= size:
            count = int(seconds // size)
            return f"{count} {'day' if unit == 'days' and count == 1 else unit} ago"
    return "just now"


def percent(value: Optional[float]) -> str:
    return "–" if value is None else f"{value * 100:.0f}%"


def row_count(value: Optional[int]) -> str:
    counted = counted_rows(value)
    return "–" if counted is None else f"{counted:,}"


def short_sha(value: Optional[str]) -> str:
    return (value or "")[:10] or "–"


def web_link(url: Optional[str]) -> Optional[str]:
    """The URL when it is plain http(s); anything else (``javascript:``...) is never made a link."""
    if url and url.lower().startswith(("https://", "http://")):
        return url
    return None


def jinja_filters() -> dict:
    return {
        "duration": duration,
        "timestamp": timestamp,
        "short_time": short_time,
        "ago": ago,
        "percent": percent,
        "short_sha": short_sha,
        "row_count": row_count,
        "tone": status_tone,
        "web_link": web_link,
    }
