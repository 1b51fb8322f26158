"""A tiny loopback HTTP server answering a script of canned replies, for API misbehaviour the
emulator does not model (a lying ``total_count``, an HTML login page, HTTP-date Retry-After)
and for checking the headers the client sends. Real sockets, real HTTP.
"""
from __future__ import annotations

import json
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable


@dataclass
class Canned:
    status: int = 200
    body: bytes = b""
    headers: dict = field(default_factory=dict)

    @classmethod
    def envelope(cls, data, status: int = 200, extra: dict | None = None, **headers) -> Canned:
        document = {"status": {"code": status, "is_success": status < 400, "user_message": "x"}, "data": data}
        if extra is not None:
            document["extra"] = extra
        return cls(status, json.dumps(document).encode(), {"Content-Type": "application/json", **headers})


@dataclass
class Seen:
    method: str
    path: str
    headers: dict


class ScriptedServer:
    """Answers with ``responder(method, path)``; records each request with its headers."""

    def __init__(self, responder: Callable[[str, str], Canned]) -> None:
        self.seen: list[Seen] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self):
                super().setup()
                # Headers and body go out in separate writes; without this Nagle adds ~40 ms each.
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def do_GET(self):
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                outer.seen.append(Seen(self.command, self.path, dict(self.headers)))
                reply = responder(self.command, self.path)
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                if reply.headers.get("Connection") == "close":
                    self.close_connection = True  # body ends when the connection does (no length)
                else:
                    self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)

            do_POST = do_GET

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    def __enter__(self) -> ScriptedServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
