"""A loopback HTTP server that misbehaves on purpose: trickled headers or bodies, gzip bombs, huge JSON.

Each behaviour writes raw bytes to the socket, so the client under test meets exactly what a
broken proxy or a hostile host would send. Real sockets, real HTTP; loopback only.
"""
from __future__ import annotations

import functools
import socket
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable

Behaviour = Callable[[BaseHTTPRequestHandler], None]
ENVELOPE_HEAD = b'{"status": {"code": 200, "is_success": true}, "data": {"id": 1, "name": "'
ENVELOPE_TAIL = b'"}}'


def trickle_body(total: int = 10_000, every: float = 0.5) -> Behaviour:
    """Headers at once, then one body byte every ``every`` seconds (each read succeeds, none times out)."""

    def behave(handler: BaseHTTPRequestHandler) -> None:
        _head(handler, {"Content-Type": "application/json", "Content-Length": str(total)})
        for _ in range(total):
            handler.wfile.write(b" ")
            handler.wfile.flush()
            time.sleep(every)

    return behave


def trickle_headers(every: float = 0.5) -> Behaviour:
    """The status line, then one header byte every ``every`` seconds, never ending the headers."""

    def behave(handler: BaseHTTPRequestHandler) -> None:
        handler.wfile.write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
        handler.wfile.flush()
        for _ in range(100_000):
            handler.wfile.write(b"a")
            handler.wfile.flush()
            time.sleep(every)

    return behave


@functools.lru_cache(maxsize=None)
def gzip_bomb(inflated: int = 1024**3) -> bytes:
    """A gzip body of about 1 MB that inflates to ``inflated`` bytes of JSON whitespace.

    Built from identical gzip members (valid gzip, which HTTP clients must accept) so it takes
    milliseconds to make instead of compressing a gigabyte.
    """
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    member = compressor.compress(b" " * (1024 * 1024)) + compressor.flush()
    return member * (inflated // (1024 * 1024))


def serve_gzip_bomb(handler: BaseHTTPRequestHandler) -> None:
    body = gzip_bomb()
    _head(handler, {"Content-Type": "application/json", "Content-Encoding": "gzip", "Content-Length": str(len(body))})
    handler.wfile.write(body)


def gzipped(body: bytes) -> Behaviour:
    """A well-behaved gzip answer, as dbt Cloud sends its API answers."""
    import gzip

    compressed = gzip.compress(body)

    def behave(handler: BaseHTTPRequestHandler) -> None:
        _head(handler, {"Content-Type": "application/json", "Content-Encoding": "gzip", "Content-Length": str(len(compressed))})
        handler.wfile.write(compressed)

    return behave


def huge_json(size: int = 300 * 1024**2) -> Behaviour:
    """A valid dbt Cloud envelope of ``size`` bytes, written in 1 MiB pieces."""

    def behave(handler: BaseHTTPRequestHandler) -> None:
        _head(handler, {"Content-Type": "application/json", "Content-Length": str(size)})
        handler.wfile.write(ENVELOPE_HEAD)
        left = size - len(ENVELOPE_HEAD) - len(ENVELOPE_TAIL)
        piece = b"x" * (1024 * 1024)
        while left > 0:
            handler.wfile.write(piece[: min(left, len(piece))])
            left -= len(piece)
        handler.wfile.write(ENVELOPE_TAIL)

    return behave


def proxy_then_stall(upstream: str, artifact: str, sent: int, announced: int) -> Behaviour:
    """Forward API calls to ``upstream`` (the emulator); for ``artifact`` send ``sent`` of ``announced``
    bytes, then stall, as a slow download that is still running when the process is killed."""
    import requests

    def behave(handler: BaseHTTPRequestHandler) -> None:
        if "/artifacts/" in handler.path and artifact in handler.path:
            _head(handler, {"Content-Type": "application/json", "Content-Length": str(announced)})
            handler.wfile.write(b" " * sent)
            handler.wfile.flush()
            time.sleep(60)
            return
        answer = requests.get(upstream + handler.path, headers={"Authorization": handler.headers["Authorization"]}, timeout=10)
        handler.send_response(answer.status_code)
        handler.send_header("Content-Type", answer.headers.get("Content-Type", "application/json"))
        handler.send_header("Content-Length", str(len(answer.content)))
        handler.end_headers()
        handler.wfile.write(answer.content)

    return behave


def _head(handler: BaseHTTPRequestHandler, headers: dict) -> None:
    handler.send_response(200)
    for name, value in headers.items():
        handler.send_header(name, value)
    handler.end_headers()
    handler.wfile.flush()


class MisbehavingServer:
    """Every request gets ``behaviour``; ``requests`` counts them. Use as a context manager.

    :param protocol: ``HTTP/1.1`` (keep-alive) or ``HTTP/1.0``, whose answers end with the connection:
        the client then lets go of the socket as soon as the headers are read, only the body still holds it.
    """

    def __init__(self, behaviour: Behaviour, protocol: str = "HTTP/1.1") -> None:
        self.requests = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = protocol

            def setup(self):
                super().setup()
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def do_GET(self):
                outer.requests += 1
                try:
                    behaviour(self)
                except OSError:  # the client gave up and closed: that is the point
                    self.close_connection = True

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._server.handle_error = lambda request, address: None  # resets by a client giving up are expected
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    def __enter__(self) -> MisbehavingServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
