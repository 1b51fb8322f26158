"""A loopback proxy to the emulator that answers chosen paths with headers, then 1 byte every 2 s, for ever.

A per-chunk read timeout never fires on such a host: the monitor must stop without waiting for it.
"""

from __future__ import annotations

import re
import threading
from http.server import BaseHTTPRequestHandler

from loopback_http import LoopbackServer, drip, fetch, send, send_head


class TrickleProxy(LoopbackServer):
    """Proxy ``GET``\\ s to ``upstream``; paths matching ``pattern`` trickle instead.

    :param upstream: the emulator's base URL.
    :param pattern: regular expression searched in the request path (``pattern`` attribute, changeable).
    :param announced_bytes: the ``Content-Length`` of a trickled answer; under the client's ``max_response_bytes``
        (32 MiB by default), else the client refuses the answer at once instead of waiting on it.
    """

    http11 = False

    def __init__(
        self, upstream: str, pattern: str | None, every: float = 2.0, announced_bytes: int = 20_000_000
    ) -> None:
        self.upstream = upstream
        self.pattern = pattern  # None: forward everything
        self.every = every
        self.announced_bytes = announced_bytes
        self.trickling = threading.Event()  # set once a request is being trickled
        self._stop = threading.Event()
        super().__init__()

    def handle(self, handler: BaseHTTPRequestHandler) -> None:
        if self.pattern and re.search(self.pattern, handler.path.split("?")[0]):
            self._trickle(handler)
        else:
            status, content_type, body = fetch(self.upstream, handler)
            send(handler, status, body, {"Content-Type": content_type or "application/json"})

    def _trickle(self, handler: BaseHTTPRequestHandler) -> None:
        send_head(handler, {"Content-Type": "application/json", "Content-Length": str(self.announced_bytes)})
        self.trickling.set()
        try:
            drip(handler, b" ", self.every, stop=self._stop)
        except OSError:
            pass  # the client gave up

    def stopping(self) -> None:
        self._stop.set()
