"""Wall-clock limits for requests: cut a request's socket when its deadline passes or the client is aborted.

``requests`` only knows per-socket-operation timeouts, so a host that trickles one byte every few
seconds (in the headers or the body) keeps a request alive forever. Every connection the
transport's session opens is registered here by the thread using it; a per-attempt watchdog, or
:meth:`ConnectionTracker.abort` from another thread, shuts that socket down, which makes the
blocked read return at once and the attempt fail with an error we then name precisely.
"""

from __future__ import annotations

import contextlib
import dataclasses
import socket
import threading
import time
from collections.abc import Iterator

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

# While a cut request's socket is still being connected, look again this often.
_RECHECK_SECONDS = 0.1


@dataclasses.dataclass(frozen=True)
class OverallDeadline:
    """A deadline for many requests (one collection): when it ends, how long it was, what it bounds."""

    until: float
    seconds: float
    what: str

    def left(self) -> float:
        return self.until - time.monotonic()

    def describe(self) -> str:
        return f"deadline of {self.seconds:g} s for {self.what}"


class ConnectionTracker:
    """Which connection each thread is using, so it can be cut from another thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_thread: dict[int, HTTPConnection] = {}
        self.aborted = False

    def claim(self, connection: HTTPConnection) -> None:
        """Called by a connection when the current thread sends a request on it."""
        with self._lock:
            self._by_thread[threading.get_ident()] = connection
            aborted = self.aborted
        if aborted:
            _shut(connection)

    def release(self, thread_id: int) -> None:
        with self._lock:
            self._by_thread.pop(thread_id, None)

    def cut(self, thread_id: int) -> bool:
        """Shut down the socket ``thread_id`` is using; False when it has none yet (still connecting)."""
        with self._lock:
            connection = self._by_thread.get(thread_id)
        return connection is not None and _shut(connection)

    def abort(self) -> None:
        """Cut every request in flight and every later one: for shutting down while a request is stuck."""
        with self._lock:
            self.aborted = True
            connections = list(self._by_thread.values())
        for connection in connections:
            _shut(connection)

    @contextlib.contextmanager
    def deadline(self, seconds: float | None) -> Iterator[threading.Event]:
        """Cut the current thread's request after ``seconds`` (None: only on abort); the event says it was cut."""
        thread_id = threading.get_ident()
        expired = threading.Event()
        done = threading.Event()

        def watch() -> None:
            if done.wait(seconds):
                return
            expired.set()
            while not self.cut(thread_id) and not done.wait(_RECHECK_SECONDS):
                pass

        if seconds is not None:
            threading.Thread(target=watch, name="dbt-cloud-deadline", daemon=True).start()
        try:
            yield expired
        finally:
            done.set()
            self.release(thread_id)


def _shut(connection: HTTPConnection) -> bool:
    sock = getattr(connection, "sock", None) or getattr(connection, "_watchdog_sock", None)
    if sock is None or sock.fileno() < 0:  # not connected yet, or a kept socket that is closed for good
        return False
    try:
        # The plain socket's shutdown even for TLS: SSLSocket.shutdown would also drop the TLS
        # object another thread is reading through; shutting the descriptor just ends its read.
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
    except OSError:  # already closed or never connected: nothing left to unblock
        pass
    return True


class TrackingAdapter(HTTPAdapter):
    """An ``HTTPAdapter`` whose connections register with a :class:`ConnectionTracker` (proxies included)."""

    def __init__(self, tracker: ConnectionTracker, **kwargs) -> None:
        self._pool_classes = _pool_classes(tracker)
        super().__init__(**kwargs)

    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = self._pool_classes

    def proxy_manager_for(self, proxy, **proxy_kwargs):
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        manager.pool_classes_by_scheme = self._pool_classes
        return manager


def _pool_classes(tracker: ConnectionTracker) -> dict[str, type]:
    def tracked(base: type) -> type:
        def request(self, *args, **kwargs):
            tracker.claim(self)
            return base.request(self, *args, **kwargs)

        def connect(self):
            base.connect(self)
            # An answer that ends with the connection (HTTP/1.0, ``Connection: close``) makes http.client drop
            # ``sock`` once the headers are read, while the body is still read through it: keep it to cut.
            self._watchdog_sock = self.sock

        return type(f"Tracked{base.__name__}", (base,), {"request": request, "connect": connect})

    return {
        "http": type("TrackedHTTPConnectionPool", (HTTPConnectionPool,), {"ConnectionCls": tracked(HTTPConnection)}),
        "https": type(
            "TrackedHTTPSConnectionPool", (HTTPSConnectionPool,), {"ConnectionCls": tracked(HTTPSConnection)}
        ),
    }
