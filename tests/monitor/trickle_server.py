"""A loopback proxy to the emulator that answers chosen paths with headers, then 1 byte every 2 s, for ever.

A per-chunk read timeout never fires on such a host: the monitor must stop without waiting for it.
"""
from __future__ import annotations

import re
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class TrickleProxy:
    """Proxy ``GET``\\ s to ``upstream``; paths matching ``pattern`` trickle instead.

    :param upstream: the emulator's base URL.
    :param pattern: regular expression searched in the request path (``pattern`` attribute, changeable).
    :param announced_bytes: the ``Content-Length`` of a trickled answer; under the client's ``max_response_bytes``
        (32 MiB by default), else the client refuses the answer at once instead of waiting on it.
    """

    def __init__(self, upstream: str, pattern: str | None, every: float = 2.0,
                 announced_bytes: int = 20_000_000) -> None:
        self.pattern = pattern  # None: forward everything
        self.announced_bytes = announced_bytes
        self.trickling = threading.Event()  # set once a request is being trickled
        self._stop = threading.Event()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                if proxy.pattern and re.search(proxy.pattern, self.path.split("?")[0]):
                    proxy._trickle(self, every)
                else:
                    proxy._forward(self, upstream)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def _trickle(self, handler: BaseHTTPRequestHandler, every: float) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(self.announced_bytes))
        handler.end_headers()
        self.trickling.set()
        try:
            while not self._stop.is_set():
                handler.wfile.write(b" ")
                handler.wfile.flush()
                time.sleep(every)
        except OSError:
            pass  # the client gave up

    @staticmethod
    def _forward(handler: BaseHTTPRequestHandler, upstream: str) -> None:
        request = urllib.request.Request(upstream + handler.path, headers={
            key: value for key, value in handler.headers.items() if key.lower() in ("authorization", "accept")
        })
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                status, ctype, body = response.status, response.headers.get("Content-Type"), response.read()
        except urllib.error.HTTPError as error:
            status, ctype, body = error.code, error.headers.get("Content-Type"), error.read()
        handler.send_response(status)
        handler.send_header("Content-Type", ctype or "application/json")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    def __enter__(self) -> TrickleProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self.server.shutdown()
        self.server.server_close()
