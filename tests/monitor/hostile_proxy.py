"""A loopback proxy to the emulator that adds hostile runs to the runs list and serves their details.

Malformed entries only exist on the list page; "mutant" runs are copies of a real run (same steps and
artifacts) under another id whose detail answer is broken in a chosen way.
"""
from __future__ import annotations

import json
import re
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Optional

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


class HostileProxy:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.malformed: list[Any] = []  # raw entries added to the first runs page
        self.mutants: dict[int, Mutant] = {}
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                proxy._handle(self)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
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
        request = urllib.request.Request(self.upstream + path, headers={
            key: value for key, value in handler.headers.items() if key.lower() in ("authorization", "accept")
        })
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    @staticmethod
    def _send(handler, status: int, body: bytes, ctype: Optional[str] = "application/json") -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", ctype)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    def __enter__(self) -> HostileProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
