"""Log output of the monitor and the CLI: text lines, or one JSON object per line (``--log-format json``).

Structured fields passed as ``extra={...}`` (syncer, run_id, status...) become JSON keys, so log
pipelines can filter on them without parsing the message. Text lines escape control characters, so a job
name from dbt Cloud cannot forge a log line or send escape sequences to a terminal; times are UTC.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import datetime, timezone

from airflow_provider_databand_dbt.safe_text import escape_controls

_STANDARD_ATTRS = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class TextFormatter(logging.Formatter):
    """``2026-11-25T10:00:03.123Z INFO logger: message``, one record per line whatever the message holds."""

    converter = time.gmtime  # type: ignore[assignment]  # UTC, as the rest of the CLI
    default_time_format = "%Y-%m-%dT%H:%M:%S"
    default_msec_format = "%s.%03dZ"

    def __init__(self, fmt: str = TEXT_FORMAT) -> None:
        super().__init__(fmt)

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = escape_controls(record.message)
        return super().formatMessage(record)

    def formatException(self, ei) -> str:
        return escape_controls(super().formatException(ei), keep_newlines=True)


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, the ``extra`` fields and any traceback."""

    def format(self, record: logging.LogRecord) -> str:
        data = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                data[key] = value
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return json.dumps(data, default=str)


def configure_logging(log_format: str, *, verbose: bool = False) -> None:
    """INFO (DEBUG when verbose) on the root logger, as escaped text lines or JSON lines.

    The CLI sets WARNING for short commands; a daemon's log is its main output, so the monitor raises it.
    The collector's per-step INFO lines stay hidden unless verbose: the monitor logs one line per run.
    """
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig()
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    if not verbose:
        logging.getLogger("airflow_provider_databand_dbt.collector").setLevel(logging.WARNING)
    for handler in root.handlers:
        handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
