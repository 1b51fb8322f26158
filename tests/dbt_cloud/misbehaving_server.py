"""A loopback HTTP server that misbehaves on purpose: trickled headers or bodies, gzip bombs, huge JSON.

Each behaviour writes raw bytes to the socket, so the client under test meets exactly what a
broken proxy or a hostile host would send. Real sockets, real HTTP; loopback only.
"""

from __future__ import annotations

import functools
import time
import zlib
from http.server import BaseHTTPRequestHandler
from typing import Callable

from loopback_http import LoopbackServer, drip, fetch, send, send_head

Behaviour = Callable[[BaseHTTPRequestHandler], None]
ENVELOPE_HEAD = b'{"status": {"code": 200, "is_success": true}, "data": {"id": 1, "name": "'
ENVELOPE_TAIL = b'"}}'


def trickle_body(total: int = 10_000, every: float = 0.5) -> Behaviour:
    """Headers at once, then one body byte every ``every`` seconds (each read succeeds, none times out)."""

    def behave(handler: BaseHTTPRequestHandler) -> None:
        send_head(handler, {"Content-Type": "application/json", "Content-Length": str(total)})
        drip(handler, b" ", every, count=total)

    return behave


def trickle_headers(every: float = 0.5) -> Behaviour:
    """The status line, then one header byte every ``every`` seconds, never ending the headers."""

    def behave(handler: BaseHTTPRequestHandler) -> None:
        handler.wfile.write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
        handler.wfile.flush()
        drip(handler, b"a", every, count=100_000)

    return behave


@functools.cache
def gzip_bomb(inflated: int = 1024**3) -> bytes:
    """A gzip body of about 1 MB that inflates to ``inflated`` bytes of JSON whitespace.

    Built from identical gzip members (valid gzip, which HTTP clients must accept) so it takes
    milliseconds to make instead of compressing a gigabyte.
    """
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    member = compressor.compress(b" " * (1024 * 1024)) + compressor.flush()
    return member * (inflated // (1024 * 1024))


def serve_gzip_bomb(handler: BaseHTTPRequestHandler) -> None:
    send(handler, 200, gzip_bomb(), {"Content-Type": "application/json", "Content-Encoding": "gzip"})


def gzipped(body: bytes) -> Behaviour:
    """A well-behaved gzip answer, as dbt Cloud sends its API answers."""
    import gzip

    compressed = gzip.compress(body)

    def behave(handler: BaseHTTPRequestHandler) -> None:
        send(handler, 200, compressed, {"Content-Type": "application/json", "Content-Encoding": "gzip"})

    return behave


def huge_json(size: int = 300 * 1024**2) -> Behaviour:
    """A valid dbt Cloud envelope of ``size`` bytes, written in 1 MiB pieces."""

    def behave(handler: BaseHTTPRequestHandler) -> None:
        send_head(handler, {"Content-Type": "application/json", "Content-Length": str(size)})
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

    def behave(handler: BaseHTTPRequestHandler) -> None:
        if "/artifacts/" in handler.path and artifact in handler.path:
            send_head(handler, {"Content-Type": "application/json", "Content-Length": str(announced)})
            handler.wfile.write(b" " * sent)
            handler.wfile.flush()
            time.sleep(60)
            return
        status, content_type, body = fetch(upstream, handler, timeout=10)
        send(handler, status, body, {"Content-Type": content_type or "application/json"})

    return behave


class MisbehavingServer(LoopbackServer):
    """Every request gets ``behaviour``; ``requests`` counts them. Use as a context manager.

    :param protocol: ``HTTP/1.1`` (keep-alive) or ``HTTP/1.0``, whose answers end with the connection:
        the client then lets go of the socket as soon as the headers are read, only the body still holds it.
    """

    quiet_errors = True  # resets by a client giving up are expected

    def __init__(self, behaviour: Behaviour, protocol: str = "HTTP/1.1") -> None:
        self.http11 = protocol == "HTTP/1.1"
        self.requests = 0
        self.behaviour = behaviour
        super().__init__()

    def handle(self, handler: BaseHTTPRequestHandler) -> None:
        self.requests += 1
        try:
            self.behaviour(handler)
        except OSError:  # the client gave up and closed: that is the point
            handler.close_connection = True
