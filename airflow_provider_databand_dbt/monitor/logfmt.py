"""Log output of the monitor: the usual text lines, or one JSON object per line (``--log-format json``).

Structured fields passed as ``extra={...}`` (syncer, run_id, status...) become JSON keys, so log
pipelines can filter on them without parsing the message.
"""
from __future__ import annotations

import json
import logging
from datetime import datetime, timezone

_STANDARD_ATTRS = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}


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
    """INFO (DEBUG when verbose) on the root logger, as JSON lines when asked.

    The CLI sets WARNING for short commands; a daemon's log is its main output, so the monitor raises it.
    The collector's per-step INFO lines stay hidden unless verbose: the monitor logs one line per run.
    """
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig()
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    if not verbose:
        logging.getLogger("airflow_provider_databand_dbt.collector").setLevel(logging.WARNING)
    if log_format == "json":
        for handler in root.handlers:
            handler.setFormatter(JsonFormatter())
