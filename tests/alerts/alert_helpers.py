"""Helpers of the alert tests: a recording webhook endpoint, notifications, and configs written as TOML files."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from loopback_http import LoopbackServer, read_body, send

from airflow_provider_databand_dbt.alerts.config import AlertsConfig, load_alerts_config
from airflow_provider_databand_dbt.alerts.notification import AlertNotification, PipelineRef

# The secret part of every test webhook URL: it must never appear in a log line, an error or the outbox.
SECRET_PATH = "/services/T0SECRET/B0SECRET/xoxSECRETtoken123"


class WebhookReceiver(LoopbackServer):
    """Records every POST (path, headers, JSON body); answers the next status of ``statuses`` (then the last one)."""

    methods = ("POST",)

    def __init__(self, *statuses: int, delay: float = 0.0) -> None:
        super().__init__()
        self.statuses = list(statuses or (200,))
        self.delay = delay
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def handle(self, handler: BaseHTTPRequestHandler) -> None:
        raw = read_body(handler)
        with self._lock:
            self.requests.append(
                {"path": handler.path, "headers": dict(handler.headers), "raw": raw, "body": json.loads(raw)}
            )
            status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
        if self.delay:
            threading.Event().wait(self.delay)
        send(handler, status, b"ok" if status < 300 else b"invalid_payload " + SECRET_PATH.encode())

    @property
    def bodies(self) -> list[Any]:
        with self._lock:
            return [request["body"] for request in self.requests]

    @property
    def secret_url(self) -> str:
        return self.url + SECRET_PATH


def notification(key: str = "incident-1:opened:run-70001", **changes: Any) -> AlertNotification:
    """A new failure of a model in job 42, run 70001, with one node skipped downstream."""
    values: dict[str, Any] = {
        "key": key,
        "incident_id": 1,
        "rule": "new_failure",
        "change": "opened",
        "severity": "error",
        "pipeline": PipelineRef(host="cloud.getdbt.com", account_id=1, job_id=42, job_name="nightly"),
        "run_id": 70001,
        "title": "fct_orders failed",
        "occurred_at": datetime(2026, 12, 6, 8, 30, tzinfo=timezone.utc),
        "node_unique_id": "model.shop.fct_orders",
        "node_name": "fct_orders",
        "resource_type": "model",
        "message": "Database Error in model fct_orders: column <amount> does not exist",
        "skipped_downstream": ("model.shop.orders_daily",),
        "run_page_url": "http://127.0.0.1:8080/runs/70001",
        "dbt_cloud_url": "https://cloud.getdbt.com/deploy/1/projects/1/runs/70001",
    }
    values.update(changes)
    return AlertNotification(**values)


def toml_value(value: Any) -> str:
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    return str(value)


def write_config(
    path: Path,
    channels: Iterable[Mapping[str, Any]],
    delivery: Mapping[str, Any] | None = None,
    **top: Any,
) -> Path:
    lines = [f"{key} = {toml_value(value)}" for key, value in top.items()]
    lines += ["[delivery]"] + [f"{key} = {toml_value(value)}" for key, value in (delivery or {}).items()]
    for channel in channels:
        lines.append("[[channels]]")
        lines += [f"{key} = {toml_value(value)}" for key, value in channel.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def config(
    tmp_path: Path, channels: Iterable[Mapping[str, Any]], environ: Mapping[str, str] | None = None, **kw: Any
) -> AlertsConfig:
    """Write the TOML file and load it with ``environ`` (default: no variables)."""
    path = write_config(tmp_path / "alerts.toml", channels, **kw)
    return load_alerts_config(str(path), environ=environ or {})


FAST_DELIVERY = {"backoff_initial": 0.05, "backoff_max": 0.2, "max_attempts": 3, "lease_seconds": 1}
