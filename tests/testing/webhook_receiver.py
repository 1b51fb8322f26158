"""A real loopback HTTP server that receives the emulator's webhooks: it records them and answers as scripted."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from dataclasses import dataclass
from typing import Any

from loopback_http import LoopbackServer, read_body, send


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float

    @property
    def event(self) -> dict[str, Any]:
        return json.loads(self.body)

    def signed_with(self, secret: str) -> bool:
        expected = hmac.new(secret.encode(), self.body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, self.headers.get("authorization", ""))


class WebhookReceiver(LoopbackServer):
    """Answers each POST with the next status of ``script`` (then ``default``); with ``secret``, 401 when unsigned."""

    methods = ("POST",)

    def __init__(self, script: list[int] | None = None, default: int = 200, secret: str | None = None) -> None:
        super().__init__()
        self.script = list(script or [])
        self.default = default
        self.secret = secret
        self.received: list[Received] = []
        self._lock = threading.Lock()

    def handle(self, handler) -> None:
        record = Received(
            handler.path, {k.lower(): v for k, v in handler.headers.items()}, read_body(handler), time.time()
        )
        with self._lock:
            self.received.append(record)
            status = self.script.pop(0) if self.script else self.default
        if self.secret is not None and not record.signed_with(self.secret):
            status = 401
        send(handler, status, b"{}", {"Content-Type": "application/json"})

    def events(self) -> list[dict[str, Any]]:
        with self._lock:
            return [r.event for r in self.received]
