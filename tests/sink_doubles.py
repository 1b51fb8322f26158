"""Real sinks for tests: each posts the tracked run as JSON to a loopback HTTP endpoint.

``HttpSink`` against a ``SinkEndpoint`` answering 500 (or a closed port) is a real failing sink,
as an OpenLineage backend or an alert webhook that is down would be.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler

from loopback_http import LoopbackServer, read_body, send

from airflow_provider_databand_dbt.sinks.registry import (
    register_sink_factory,
    unregister_sink_factory,
)


class SinkEndpoint(LoopbackServer):
    """Records every POSTed body; answers ``status``."""

    methods = ("POST",)

    def __init__(self, status: int = 204) -> None:
        super().__init__()
        self.status = status
        self.received: list[dict] = []
        self._lock = threading.Lock()

    def handle(self, handler: BaseHTTPRequestHandler) -> None:
        body = json.loads(read_body(handler))
        with self._lock:
            self.received.append(body)
        send(handler, self.status, b"" if self.status == 204 else b"backend down\nsecond line")


class HttpSink:
    """Posts ``{run_id, status, source_kind, source_name, action}``; any non-2xx or network error raises."""

    def __init__(self, name: str, url: str) -> None:
        self.name = name
        self.url = url

    def handle(self, report, source, outcome) -> None:
        body = {
            "run_id": report.run_id,
            "status": report.status,
            "source_kind": source.kind,
            "source_name": source.name,
            "source_stamped": source.tracked_at is not None,
            "action": str(outcome.action) if outcome is not None else None,
        }
        request = urllib.request.Request(
            self.url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST"
        )
        with urllib.request.urlopen(request, timeout=5):
            pass


def closed_port_url() -> str:
    """A loopback URL nobody listens on (connection refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


@contextlib.contextmanager
def registered(*sinks: HttpSink) -> Iterator[None]:
    """Every tracking service built inside gets ``sinks`` (through the registry, as real exporters will)."""
    factories = [(lambda sink=sink: sink) for sink in sinks]
    for factory in factories:
        register_sink_factory(factory)
    try:
        yield
    finally:
        for factory in factories:
            unregister_sink_factory(factory)
