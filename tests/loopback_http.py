"""What the tests' local HTTP servers share: a free 127.0.0.1 port, a serving thread, and how answers are written.

Each server (scripted, misbehaving, hostile dbt Cloud, the monitor's proxies) is a :class:`LoopbackServer`
whose ``handle`` decides the answer; :func:`send`, :func:`send_head`, :func:`drip` and :func:`fetch`
write whole answers, headers alone, trickled bytes, or get an answer from the upstream a proxy forwards to.
Real sockets and real HTTP; loopback only.
"""

from __future__ import annotations

import socket
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# Request headers a proxy passes on to its upstream (the token, and the answer format asked for).
FORWARDED_HEADERS = ("authorization", "accept")


class LoopbackServer:
    """A threading HTTP server on a free loopback port, serving while used as a context manager.

    Subclasses answer in :meth:`handle`, for each method in ``methods``. With ``http11`` connections stay
    open (HTTP/1.1) and small writes leave at once (TCP_NODELAY: headers and body go out in separate writes,
    which Nagle delays by ~40 ms each); without it each connection answers one request (HTTP/1.0), as the
    proxies do. ``quiet_errors``: clients resetting the connection are expected, print no traceback.
    """

    methods: tuple[str, ...] = ("GET",)
    http11 = True
    quiet_errors = False

    def __init__(self) -> None:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1" if self.http11 else "HTTP/1.0"

            def setup(self) -> None:
                super().setup()
                if server.http11:
                    self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def answer(self) -> None:
                server.handle(self)

            def log_message(self, *args) -> None:
                pass

        for method in self.methods:
            setattr(Handler, f"do_{method}", Handler.answer)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        if self.quiet_errors:
            self._server.handle_error = lambda request, address: None
        self.host = f"127.0.0.1:{self._server.server_address[1]}"
        self.url = f"http://{self.host}"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    def handle(self, handler: BaseHTTPRequestHandler) -> None:
        raise NotImplementedError

    def stopping(self) -> None:
        """Called first on exit, to release handlers still answering (a trickle that never ends by itself)."""

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stopping()
        self._server.shutdown()
        self._server.server_close()


def read_body(handler: BaseHTTPRequestHandler) -> bytes:
    """The request body (by Content-Length), read so a kept-alive connection's next request starts clean."""
    length = int(handler.headers.get("Content-Length") or 0)
    return handler.rfile.read(length) if length else b""


def send(
    handler: BaseHTTPRequestHandler, status: int, body: bytes, headers: dict | None = None, *, with_length: bool = True
) -> None:
    """One whole answer. ``with_length=False``: no Content-Length, the body ends when the connection closes."""
    handler.send_response(status)
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    if with_length:
        handler.send_header("Content-Length", str(len(body)))
    else:
        handler.close_connection = True
    handler.end_headers()
    handler.wfile.write(body)


def send_head(handler: BaseHTTPRequestHandler, headers: dict, status: int = 200) -> None:
    """Status line and headers, flushed; the caller then writes the body as slowly or oddly as it means to."""
    handler.send_response(status)
    for name, value in headers.items():
        handler.send_header(name, value)
    handler.end_headers()
    handler.wfile.flush()


def drip(
    handler: BaseHTTPRequestHandler,
    byte: bytes,
    every: float,
    count: int | None = None,
    stop: threading.Event | None = None,
) -> None:
    """Write ``byte``, then wait ``every`` seconds: ``count`` times, or (None) until ``stop`` is set.

    Each read of the client succeeds, so no per-read timeout ever fires; raises OSError when it gives up.
    """
    sent = 0
    while (count is None or sent < count) and not (stop is not None and stop.is_set()):
        handler.wfile.write(byte)
        handler.wfile.flush()
        time.sleep(every)
        sent += 1


def fetch(
    upstream: str, handler: BaseHTTPRequestHandler, path: str | None = None, timeout: float = 30
) -> tuple[int, str | None, bytes]:
    """``GET upstream + path`` (default: the request's path) with the client's forwarded headers.

    Returns status, Content-Type and body, for error statuses too (a proxy passes them on).
    """
    request = urllib.request.Request(
        upstream + (handler.path if path is None else path),
        headers={key: value for key, value in handler.headers.items() if key.lower() in FORWARDED_HEADERS},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.headers.get("Content-Type"), response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Content-Type"), error.read()
