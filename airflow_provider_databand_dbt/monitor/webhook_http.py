"""``POST /webhooks/dbt-cloud/<syncer>``: receive a dbt Cloud webhook and queue it durably, nothing more.

Checks in order, each answered at once and never tracked: unknown syncer (or one without a secret) 404,
body over 1 MiB 413 (judged by ``Content-Length``, the body is then not read), bad or missing signature
401, malformed JSON or fields 400, another account 400. A valid delivery is inserted into the store's
queue and answered 200 only once committed (``duplicate`` when its eventId was already queued); a store
that cannot take it answers 503 so dbt Cloud delivers it again. Runs are collected by the worker, never here.
"""

from __future__ import annotations

import json
import logging
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import unquote

from airflow_provider_databand_dbt.monitor.http import ServingThread
from airflow_provider_databand_dbt.monitor.webhook_metrics import WebhookMetrics, type_label
from airflow_provider_databand_dbt.monitor.webhook_payload import (
    EVENT_TYPES,
    Delivery,
    Refused,
    check_signature,
    parse_delivery,
)
from airflow_provider_databand_dbt.safe_text import escape_controls
from airflow_provider_databand_dbt.tracking.errors import TrackingError
from airflow_provider_databand_dbt.tracking.webhook_events import WebhookEvent, WebhookQueue

log = logging.getLogger(__name__)

ROUTE_PREFIX = "/webhooks/dbt-cloud/"
MAX_BODY_BYTES = 1024 * 1024
# What a refused body may still cost us: at most this much of it is read and dropped, for at most this long.
DISCARD_BYTES = 4 * MAX_BODY_BYTES
DISCARD_SECONDS = 2.0
# dbt Cloud gives up on a delivery after 10 s: a client slower than that holds a thread for nothing.
SOCKET_TIMEOUT = 10.0
RETRY_AFTER_SECONDS = "30"


@dataclass(frozen=True)
class Route:
    """One syncer that receives webhooks: its secret, account, dbt Cloud host and job filters."""

    syncer: str
    secret: bytes
    account_id: int
    host: str
    job_ids: tuple[int, ...] = ()
    project_ids: tuple[int, ...] = ()
    environment_ids: tuple[int, ...] = ()

    def wants(self, delivery: Delivery) -> bool:
        """False for a run of a job, project or environment outside the syncer's filters (it is not tracked)."""
        for allowed, value in (
            (self.job_ids, delivery.job_id),
            (self.project_ids, delivery.project_id),
            (self.environment_ids, delivery.environment_id),
        ):
            if allowed and value is not None and value not in allowed:
                return False
        return True


class WebhookReceiver:
    """What the handler does with a delivery; kept apart from HTTP plumbing.

    :param routes: syncer name -> route, for syncers with a webhook secret.
    :param queue: the store's webhook queue.
    :param on_queued: called after a new event is committed (wakes the worker).
    """

    def __init__(
        self, routes: Mapping[str, Route], queue: WebhookQueue, metrics: WebhookMetrics, on_queued: Callable[[], None]
    ) -> None:
        self.routes = dict(routes)
        self.queue = queue
        self.metrics = metrics
        self.on_queued = on_queued

    def accept(self, route: Route, body: bytes, authorization: str | None) -> tuple[int, str]:
        """Check and queue one delivery whose size is already known to be fine; returns (status, answer)."""
        check_signature(route.secret, body, authorization)
        delivery = parse_delivery(body, route.account_id)
        self.metrics.received.labels(syncer=route.syncer, type=type_label(delivery.event_type)).inc()
        if delivery.event_type not in EVENT_TYPES or not route.wants(delivery):
            return 200, "ignored"
        event = WebhookEvent(
            syncer=route.syncer,
            event_id=delivery.event_id,
            event_type=delivery.event_type,
            host=route.host,
            account_id=delivery.account_id,
            run_id=delivery.run_id,
        )
        try:
            added = self.queue.enqueue(event)
        except TrackingError as exc:
            log.warning("webhook %s of syncer %s not queued, answered 503: %s", event.event_id, route.syncer, exc)
            raise Refused(503, "store_unavailable", "the tracking store cannot take the event now; retry") from None
        if not added:
            self.metrics.duplicates.labels(syncer=route.syncer).inc()
            return 200, "duplicate"
        self.on_queued()
        log.debug(
            "webhook %s (%s, run %s) queued for syncer %s", event.event_id, event.event_type, event.run_id, route.syncer
        )
        return 200, "queued"


class _Handler(BaseHTTPRequestHandler):
    server: _WebhookHttpServer
    server_version = "databand-dbt-monitor"
    timeout = SOCKET_TIMEOUT

    def do_POST(self) -> None:  # noqa: N802 (http.server naming)
        started = time.perf_counter()
        receiver = self.server.receiver
        try:
            route = self._route()
            length = self._content_length()
            body = self.rfile.read(length)
            if len(body) != length:
                raise Refused(400, "malformed", "the body is shorter than its Content-Length")
            status, answer = receiver.accept(route, body, self.headers.get("Authorization"))
        except Refused as refused:
            receiver.metrics.refused.labels(reason=refused.reason).inc()
            log.info("webhook refused on %s: %s %s", escape_controls(self.path[:200]), refused.status, refused)
            status, answer = refused.status, str(refused)
        except Exception:  # a bug: never a traceback to the sender, never a 2xx
            log.exception("webhook on %s failed", escape_controls(self.path[:200]))
            status, answer = 500, "internal error"
        self._answer(status, answer)
        receiver.metrics.ack_seconds.observe(time.perf_counter() - started)
        if status in (411, 413):
            self._discard_unread_body()

    def do_GET(self) -> None:  # noqa: N802
        self._answer(
            405 if self.path.startswith(ROUTE_PREFIX) else 404,
            "POST dbt Cloud webhooks to /webhooks/dbt-cloud/<syncer>",
        )

    def _route(self) -> Route:
        path = self.path.split("?", 1)[0]
        name = unquote(path[len(ROUTE_PREFIX) :]).rstrip("/") if path.startswith(ROUTE_PREFIX) else ""
        route = self.server.receiver.routes.get(name)
        if route is None:
            raise Refused(404, "unknown_syncer", "no syncer receives webhooks at this path")
        return route

    def _content_length(self) -> int:
        raw = self.headers.get("Content-Length")
        if raw is None or not raw.strip().isdigit():
            self.close_connection = True
            raise Refused(411 if raw is None else 400, "malformed", "a Content-Length header is required")
        length = int(raw)
        if length > MAX_BODY_BYTES:
            self.close_connection = True  # the body is left unread
            raise Refused(413, "too_large", f"the body is over {MAX_BODY_BYTES} bytes")
        return length

    def _answer(self, status: int, answer: str) -> None:
        body = json.dumps({"status": answer} if status < 300 else {"error": answer}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        if status == 503:
            self.send_header("Retry-After", RETRY_AFTER_SECONDS)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def _discard_unread_body(self) -> None:
        """After refusing a body unread: stop writing, then throw away what the sender still sends (bounded).

        Closing a socket with unread data resets the connection, and the sender may then see the reset
        instead of our 413; a bounded discard lets it read the answer, and nothing is kept or parsed.
        """
        try:
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_WR)
            self.connection.settimeout(DISCARD_SECONDS)
            left = DISCARD_BYTES
            while left > 0:
                chunk = self.connection.recv(min(left, 65536))
                if not chunk:
                    break
                left -= len(chunk)
        except OSError:
            pass

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (signature of the base class)
        log.debug("webhook http %s - %s", self.address_string(), format % args)


class _WebhookHttpServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # dbt Cloud delivers bursts (a schedule starting many jobs at once): keep them waiting in the kernel.
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], receiver: WebhookReceiver) -> None:
        super().__init__(address, _Handler)
        self.receiver = receiver


class WebhookServer(ServingThread):
    """Serve the webhook route on its own port until :meth:`stop`.

    :raises OSError: the address cannot be bound.
    """

    def __init__(self, host: str, port: int, receiver: WebhookReceiver) -> None:
        super().__init__(_WebhookHttpServer((host, port), receiver), "monitor-webhooks")
