"""The emulator's HTTP side: a stdlib threading server, auth, injected faults and the request log.

Keep-alive HTTP/1.1 so clients reuse connections; artifacts are streamed from disk with
``sendfile`` so a 300 MB manifest never sits in memory.
"""

from __future__ import annotations

import logging
import math
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from airflow_provider_databand_dbt.testing.emulator_api import (
    ApiRequest,
    BadRequest,
    DbtCloudApi,
    Reply,
    account_payload,
    error,
    listing,
)
from airflow_provider_databand_dbt.testing.emulator_control import PREFIX, ControlPlane
from airflow_provider_databand_dbt.testing.emulator_faults import Fault, FaultBook, RequestLog, RequestRecord
from airflow_provider_databand_dbt.testing.emulator_ratelimit import AccountRateLimit
from airflow_provider_databand_dbt.testing.emulator_state import EmulatorState, NotFound
from airflow_provider_databand_dbt.testing.emulator_webhook_dispatch import WebhookDispatcher

log = logging.getLogger(__name__)

_CORRUPT_BODY = b'{"status": {"code": 200, "is_success": true}, "data": {"id": 1, "name": '
_CHUNK = 1024 * 1024
_MAX_BODY = 10 * 1024 * 1024


def _token(header: str | None) -> str | None:
    """The token of ``Authorization: Token X`` or ``Bearer X``."""
    if not header:
        return None
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() not in ("token", "bearer") or not value.strip():
        return None
    return value.strip()


def _retry_after(seconds: float) -> str:
    value = float(seconds)
    return str(int(value)) if value.is_integer() else f"{value:g}"


class EmulatorApp:
    """Turns one parsed request into a reply: control plane, faults, auth, then the dbt Cloud API."""

    def __init__(
        self,
        state: EmulatorState,
        faults: FaultBook,
        requests: RequestLog,
        webhooks: WebhookDispatcher | None = None,
    ) -> None:
        self.state = state
        self.faults = faults
        self.requests = requests
        self.rate_limit = AccountRateLimit()
        self.api = DbtCloudApi(state)
        self.control = ControlPlane(state, faults, requests, webhooks, rate_limit=self.rate_limit)
        self.base_url = ""

    def answer(self, req: ApiRequest, authorization: str | None) -> Reply:
        if req.path.startswith(PREFIX):
            return self._route(self.control, req, {})
        token = _token(authorization)
        if token is None:
            return error(401, "Authentication credentials were not provided.")
        accounts = self.state.accounts_for_token(token)
        if accounts is None:
            return error(401, "Invalid token.")
        if req.method == "GET" and req.path.rstrip("/") in ("/api/v2/accounts", "/api/v3/accounts"):
            found = [account_payload(self.state.account(a)) for a in sorted(accounts) if a in self.state.accounts]
            return listing(found, len(found), {"limit": 100, "offset": 0})
        return self._route(self.api, req, accounts)

    def _route(self, router: DbtCloudApi | ControlPlane, req: ApiRequest, accounts: Any) -> Reply:
        method = "GET" if req.method == "HEAD" else req.method
        handler, params, other_method = router.match(method, req.path)
        if handler is None:
            return error(405) if other_method else error(404)
        if router is self.api and int(params["account"]) not in accounts:
            return error(403, f"This token may not access account {params['account']}.")
        try:
            return handler(req, **params)
        except NotFound as exc:
            return error(404, f"The requested resource was not found: {exc}.")
        except (BadRequest, ValueError) as exc:
            return error(400, str(exc))
        except Exception:  # a bug in the emulator must still answer, like a real 500
            log.exception("emulator failed on %s %s", req.method, req.path)
            return error(500)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "dbt-cloud-emulator/1.0"
    # Idle keep-alive connections give their thread back after this long.
    timeout = 120
    # Headers and body go out in separate writes; Nagle + delayed ACK would add 40 ms to each.
    disable_nagle_algorithm = True
    server: _Server

    def do_GET(self) -> None:
        self._handle()

    do_POST = do_DELETE = do_PUT = do_PATCH = do_HEAD = do_GET

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        """Silence the stdlib's access log: it would print to stderr; we log at DEBUG instead."""

    def _handle(self) -> None:
        app = self.server.app
        split = urlsplit(self.path)
        path = unquote(split.path)
        query = parse_qs(split.query, keep_blank_values=True)
        try:
            body = self._read_body()
        except ValueError as exc:
            self.close_connection = True
            self._send(error(400, str(exc)))
            return
        req = ApiRequest(self.command, path, query, body, app.base_url)
        control = path.startswith(PREFIX)
        fault = None if control else app.faults.take(self.command, path)
        if fault is not None and fault.kind == "drop":
            self._record(req, 0)
            self.close_connection = True
            return
        if fault is not None and fault.kind == "slow":
            time.sleep(fault.delay)
        reply = self._faulted_reply(fault) if fault is not None and fault.kind in ("status", "corrupt") else None
        if reply is None and not control:
            reply = self._rate_limited_reply(app.rate_limit.check(path))
        if reply is None:
            reply = app.answer(req, self.headers.get("Authorization"))
        if fault is not None and fault.kind == "drop_after":
            # Done, but the client never hears of it.
            self._record(req, 0)
            self.close_connection = True
            return
        if not control:
            self._record(req, reply.status)
        self._send(reply, truncate=fault is not None and fault.kind == "truncate")

    @staticmethod
    def _faulted_reply(fault: Fault) -> Reply:
        if fault.kind == "corrupt":
            return Reply(200, _CORRUPT_BODY)
        headers = {"Retry-After": _retry_after(fault.retry_after)} if fault.retry_after is not None else {}
        return error(fault.status, headers=headers)

    @staticmethod
    def _rate_limited_reply(retry_after: float | None) -> Reply | None:
        """dbt Cloud's answer to every request of a locked-out account (whole seconds in Retry-After)."""
        if retry_after is None:
            return None
        return error(429, headers={"Retry-After": str(max(1, math.ceil(retry_after)))})

    def _record(self, req: ApiRequest, status: int) -> None:
        # Recorded before answering, so a test reading the log after its response sees this request.
        query = {k: ",".join(v) for k, v in req.query.items()}
        self.server.app.requests.add(RequestRecord(req.method, req.path, query, status))
        log.debug("%s %s -> %s", req.method, req.path, status or "dropped")

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            parts = []
            total = 0
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(parts)
                total += size
                if total > _MAX_BODY:
                    raise ValueError("request body too large")
                parts.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        if length > _MAX_BODY:
            raise ValueError("request body too large")
        return self.rfile.read(length) if length > 0 else b""

    def _send(self, reply: Reply, truncate: bool = False) -> None:
        try:
            fh = reply.file.open("rb") if reply.file is not None else None
        except OSError:
            fh, reply = None, error(404)
        try:
            length = reply.file.stat().st_size if fh is not None and reply.file else len(reply.body)
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.content_type)
            # A truncated answer promises more bytes than it sends, then hangs up.
            self.send_header("Content-Length", str(length + 512 if truncate else length))
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            if self.command != "HEAD":
                send = length // 2 if truncate else length
                if fh is not None:
                    self._stream(fh, send)
                else:
                    self.wfile.write(reply.body[:send])
        except (BrokenPipeError, ConnectionResetError, socket.timeout) as exc:
            log.debug("client went away during %s %s: %s", self.command, self.path.split("?")[0], exc)
            self.close_connection = True
        finally:
            if fh is not None:
                fh.close()
        if truncate:
            self.close_connection = True

    def _stream(self, fh: Any, count: int) -> None:
        try:
            self.connection.sendfile(fh, 0, count)
        except (AttributeError, OSError) as exc:
            if isinstance(exc, (BrokenPipeError, ConnectionResetError)):
                raise
            fh.seek(0)
            remaining = count
            while remaining > 0:
                chunk = fh.read(min(_CHUNK, remaining))
                if not chunk:
                    break
                self.wfile.write(chunk)
                remaining -= len(chunk)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], app: EmulatorApp) -> None:
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.app = app
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Hang up kept-alive connections, so a stopped emulator stops answering everyone."""
        with self._connections_lock:
            connections = list(self._connections)
        for conn in connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class EmulatorServer:
    """Runs an :class:`EmulatorApp` on ``host:port`` in a daemon thread.

    :param port: 0 picks a free port; read it back from :attr:`url`.
    """

    def __init__(self, app: EmulatorApp, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = app
        self.host = host
        self.port = port
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> None:
        if self._server is not None:
            return
        self._server = _Server((self.host, self.port), self.app)
        self.port = self._server.server_address[1]
        self.app.base_url = self.url
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=f"dbt-cloud-emulator:{self.port}",
            daemon=True,
        )
        self._thread.start()
        log.debug("dbt Cloud emulator listening on %s", self.url)

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.close_connections()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        log.debug("dbt Cloud emulator on %s stopped", self.url)
