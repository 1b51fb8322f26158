"""``/metrics`` and ``/health`` on one port, served by a small background thread (standard library only)."""

from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Self

from airflow_provider_databand_dbt.extras import extra_imports

with extra_imports("monitor", "the monitor's metrics server (monitor.http)"):
    from prometheus_client.exposition import CONTENT_TYPE_LATEST

log = logging.getLogger(__name__)


class _Handler(BaseHTTPRequestHandler):
    server: _MonitorHttpServer
    server_version = "databand-dbt-monitor"

    def do_GET(self) -> None:  # noqa: N802 (http.server naming)
        path = self.path.split("?", 1)[0].rstrip("/") or "/"
        if path == "/metrics":
            self._send(200, CONTENT_TYPE_LATEST, self.server.render_metrics())
        elif path == "/health":
            healthy, body = self.server.health()
            self._send(200 if healthy else 503, "application/json", json.dumps(body).encode())
        elif path == "/":
            self._send(200, "text/plain; charset=utf-8", b"databand-dbt monitor: /metrics /health\n")
        else:
            self._send(404, "text/plain; charset=utf-8", b"not found: try /metrics or /health\n")

    def _send(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (signature of the base class)
        # Scrapes every few seconds would drown the run lines; keep them at debug level.
        log.debug("http %s - %s", self.address_string(), format % args)


class _MonitorHttpServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self, address: tuple[str, int], render_metrics: Callable[[], bytes], health: Callable[[], tuple[bool, dict]]
    ) -> None:
        super().__init__(address, _Handler)
        self.render_metrics = render_metrics
        self.health = health


class ServingThread:
    """An HTTP server answering in a daemon thread until :meth:`stop`: the monitor's metrics and webhook ports."""

    def __init__(self, server: ThreadingHTTPServer, name: str) -> None:
        self._server = server
        self._thread = threading.Thread(target=self._server.serve_forever, name=name, daemon=True)

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


class MetricsServer(ServingThread):
    """Serve metrics and health until :meth:`stop`.

    :param host: address to bind (``0.0.0.0`` in containers, ``127.0.0.1`` for local use).
    :param port: TCP port; must be free.
    :param render_metrics: returns the Prometheus text exposition.
    :param health: returns ``(healthy, json_body)``.
    """

    def __init__(
        self, host: str, port: int, render_metrics: Callable[[], bytes], health: Callable[[], tuple[bool, dict]]
    ) -> None:
        super().__init__(_MonitorHttpServer((host, port), render_metrics, health), "monitor-http")
