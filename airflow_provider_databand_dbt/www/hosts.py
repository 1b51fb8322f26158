"""Answer only to the names the web view is served as: a defence against DNS rebinding.

The standalone view has no authentication and trusts being on loopback. A web page on another site
can point its own name at 127.0.0.1 (DNS rebinding) and read the view through the visitor's browser;
such requests carry that site's name in ``Host``, so anything not on the allowed list gets 400.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Optional

from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send

log = logging.getLogger(__name__)

ANY_HOST = "*"
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
_WILDCARD_ADDRESSES = ("0.0.0.0", "::", "")


def split_host(value: str) -> tuple[str, Optional[int]]:
    """``(name, port)`` of a Host header or an allowed-host entry; names lower-cased, IPv6 without brackets.

    :raises ValueError: the port is not a number.
    """
    value = value.strip().lower()
    if value.startswith("["):  # [::1]:8788
        name, _, rest = value[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    elif value.count(":") == 1:
        name, _, port = value.partition(":")
    else:  # a name, or a bare IPv6 address
        name, port = value, ""
    return name.rstrip("."), int(port) if port else None


def served_hosts(host: str, port: int, extra: Iterable[str] = ()) -> list[str]:
    """The Host values ``databand-dbt ui --host HOST --port PORT`` answers to: loopback names and the
    listening address with the port, plus ``extra`` entries (``name`` for any port, ``name:port``)."""
    names = [*LOOPBACK_NAMES]
    bare = host.strip().strip("[]").lower()
    if bare not in _WILDCARD_ADDRESSES and bare not in names:
        names.append(bare)
    return [f"[{name}]:{port}" if ":" in name else f"{name}:{port}" for name in names] + [
        entry.strip() for entry in extra if entry.strip()
    ]


class AllowedHosts:
    """ASGI middleware that answers 400 to requests whose ``Host`` is not allowed.

    :param app: the application to protect.
    :param allowed: entries ``name`` (any port) or ``name:port``; ``*`` allows every host.
    :param default_port: the port a Host header without one means (80 for plain HTTP).
    """

    def __init__(self, app: ASGIApp, allowed: Iterable[str], *, default_port: int = 80) -> None:
        self.app = app
        self.default_port = default_port
        entries = [split_host(entry) for entry in allowed if entry.strip() != ANY_HOST]
        self.any_host = any(entry.strip() == ANY_HOST for entry in allowed)
        self.any_port = {name for name, port in entries if port is None}
        self.with_port = {(name, port) for name, port in entries if port is not None}

    def accepts(self, header: Optional[str]) -> bool:
        if self.any_host:
            return True
        if not header:
            return False
        try:
            name, port = split_host(header)
        except ValueError:
            return False
        return name in self.any_port or (name, port or self.default_port) in self.with_port

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            header = dict(scope.get("headers") or ()).get(b"host", b"").decode("latin-1")
            if not self.accepts(header) and scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008})
                return
            if not self.accepts(header):
                log.warning("Refused a request for Host %r (not an allowed host; see --allowed-host)", header[:100])
                response = PlainTextResponse(
                    "Unknown Host header: this web view only answers to the names it is served as "
                    "(loopback, --host, --allowed-host).\n",
                    status_code=400,
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
