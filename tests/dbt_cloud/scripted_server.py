"""A tiny loopback HTTP server answering a script of canned replies, for API misbehaviour the
emulator does not model (a lying ``total_count``, an HTML login page, HTTP-date Retry-After)
and for checking the headers the client sends. Real sockets, real HTTP.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Callable

from loopback_http import LoopbackServer, read_body, send


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


class ScriptedServer(LoopbackServer):
    """Answers with ``responder(method, path)``; records each request with its headers."""

    methods = ("GET", "POST")

    def __init__(self, responder: Callable[[str, str], Canned]) -> None:
        self.seen: list[Seen] = []
        self.responder = responder
        super().__init__()

    def handle(self, handler: BaseHTTPRequestHandler) -> None:
        read_body(handler)
        self.seen.append(Seen(handler.command, handler.path, dict(handler.headers)))
        reply = self.responder(handler.command, handler.path)
        # Connection: close means the body ends when the connection does (no length).
        send(handler, reply.status, reply.body, reply.headers, with_length=reply.headers.get("Connection") != "close")
