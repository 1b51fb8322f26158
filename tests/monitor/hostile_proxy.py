"""A loopback proxy to the emulator that adds hostile runs to the runs list and serves their details.

Malformed entries only exist on the list page; "mutant" runs are copies of a real run (same steps and
artifacts) under another id whose detail answer is broken in a chosen way.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from loopback_http import LoopbackServer, fetch, send

RUN_PATH = re.compile(r"/runs/(\d+)/")


@dataclass
class Mutant:
    """A listed run (``id``, finished) that is a copy of ``template`` with a hostile detail answer.

    :param mode: ``fields`` sets ``fields`` in the run's data; ``body`` answers ``body`` verbatim;
        ``status`` answers the HTTP ``status``.
    """

    id: int
    template: int
    mode: str
    fields: dict[str, Any] = field(default_factory=dict)
    body: bytes = b""
    status: int = 404


class HostileProxy(LoopbackServer):
    """Forwards to ``upstream``, splicing ``malformed`` entries and ``mutants`` into what it answers."""

    http11 = False

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.malformed: list[Any] = []  # raw entries added to the first runs page
        self.mutants: dict[int, Mutant] = {}
        super().__init__()

    def handle(self, handler: BaseHTTPRequestHandler) -> None:
        path, _, query = handler.path.partition("?")
        match = RUN_PATH.search(path)
        mutant = self.mutants.get(int(match.group(1))) if match else None
        if mutant is not None:
            upstream_path = path.replace(f"/runs/{mutant.id}/", f"/runs/{mutant.template}/")
            if path.endswith(f"/runs/{mutant.id}/"):
                return self._mutant_detail(handler, mutant, upstream_path, query)
            status, body = self._fetch(handler, upstream_path + ("?" + query if query else ""))
            return self._send(handler, status, body)
        status, body = self._fetch(handler, handler.path)
        if path.endswith("/runs/") and status == 200 and "offset=0" in query:
            page = json.loads(body)
            page["data"] = self._spliced(page["data"])
            body = json.dumps(page).encode()
        self._send(handler, status, body)

    def _spliced(self, runs: list[Any]) -> list[Any]:
        """Mutants in id order among the real runs (newest first), malformed entries spread in between."""
        template = {run["id"]: run for run in runs}
        for mutant in self.mutants.values():
            copy = dict(template.get(mutant.template) or {"status": 10})
            copy["id"] = mutant.id
            runs.append(copy)
        runs.sort(key=lambda run: -run["id"])
        for position, entry in enumerate(self.malformed):
            runs.insert(min(len(runs), 2 * position + 1), entry)
        return runs

    def _mutant_detail(self, handler, mutant: Mutant, upstream_path: str, query: str) -> None:
        if mutant.mode == "status":
            return self._send(handler, mutant.status, b'{"status": {"code": %d}}' % mutant.status)
        if mutant.mode == "body":
            return self._send(handler, 200, mutant.body)
        status, body = self._fetch(handler, upstream_path + ("?" + query if query else ""))
        page = json.loads(body)
        page["data"].update(mutant.fields, id=mutant.id)
        self._send(handler, status, json.dumps(page).encode())

    def _fetch(self, handler, path: str) -> tuple[int, bytes]:
        status, _, body = fetch(self.upstream, handler, path)
        return status, body

    @staticmethod
    def _send(handler, status: int, body: bytes) -> None:
        send(handler, status, body, {"Content-Type": "application/json"})
