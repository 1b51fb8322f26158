"""The web view's FastAPI app factory, used by ``databand-dbt ui`` and by the Airflow plugin.

The app only reads: it opens the tracking store lazily on the first request (so importing the
Airflow plugin never touches a database) and never writes to it.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Optional, Union

from airflow_provider_databand_dbt import __version__
from airflow_provider_databand_dbt.extras import extra_imports

with extra_imports("ui", "the web view (www.app)"):
    from fastapi import FastAPI
    from fastapi.staticfiles import StaticFiles

    from airflow_provider_databand_dbt.www.limits import DEFAULT_HEAVY_REQUESTS, HeavyRequests
    from airflow_provider_databand_dbt.www.run_cache import RunCache

if TYPE_CHECKING:  # the reader (and SQLAlchemy) load with the first page, not with the Airflow plugin
    from airflow_provider_databand_dbt.tracking.read import Connection

log = logging.getLogger(__name__)

HERE = Path(__file__).parent
UrlSetting = Union[str, None, Callable[[], Optional[str]]]


class StoreHandle:
    """The tracking store as the web view sees it: opened once, on first use, and only read.

    :param tracking_url: a SQLAlchemy URL, None for the default resolution, or a callable returning
        either (Airflow's config is read when the first page is asked for, not at import).
    """

    def __init__(self, tracking_url: UrlSetting = None) -> None:
        self._setting = tracking_url
        self._store = None
        self._lock = threading.Lock()

    def _open(self):
        from airflow_provider_databand_dbt.tracking.store import TrackingStore

        url = self._setting() if callable(self._setting) else self._setting
        return TrackingStore(url, read_only=True)

    @property
    def store(self):
        if self._store is None:
            with self._lock:
                if self._store is None:
                    self._store = self._open()
                    log.info("Web view reading tracking store %s", self.display_url)
        return self._store

    @property
    def display_url(self) -> str:
        """The store's URL with credentials masked, for the server's console and log."""
        from airflow_provider_databand_dbt.tracking.url import display_url

        return self._shown_url(display_url)

    @property
    def public_url(self) -> str:
        """The store as every viewer of the (unauthenticated) pages may see it: no user, host or options."""
        from airflow_provider_databand_dbt.tracking.url import public_url

        return self._shown_url(public_url)

    def _shown_url(self, mask: Callable[[str], str]) -> str:
        """The open store's URL, else the configured one, through ``mask``.

        A setting still to be called is not named.
        """
        if self._store is not None:
            return mask(self._store.url)
        if isinstance(self._setting, str):
            return mask(self._setting)
        return "(default tracking store)"

    @contextlib.contextmanager
    def read(self) -> Iterator[Connection]:
        """A connection inside one read transaction: every query of a page sees the same snapshot."""
        from airflow_provider_databand_dbt.tracking.engine import guarded

        engine = self.store.engine
        with guarded("read the tracking store", self.display_url):
            with engine.connect() as conn:
                with conn.begin():
                    yield conn

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None


class WebSettings:
    """What a web view instance needs to know besides the store.

    :param airflow_url: Airflow's base URL, to link the task instances that tracked a run; ``""``
        means "same server" (inside the Airflow plugin), None means "unknown" (no links).
    :param page_size: rows per page in run and node lists.
    """

    def __init__(self, *, airflow_url: Optional[str] = None, page_size: int = 50, title: str = "dbt Cloud runs"):
        self.airflow_url = airflow_url
        self.page_size = page_size
        self.title = title
        self.version = __version__


def create_app(
    tracking_url: UrlSetting = None,
    *,
    airflow_url: Optional[str] = None,
    page_size: int = 50,
    store: Optional[StoreHandle] = None,
    dependencies: Sequence[Any] = (),
    allowed_hosts: Optional[Sequence[str]] = None,
    heavy_requests: int = DEFAULT_HEAVY_REQUESTS,
) -> FastAPI:
    """Build the web view: HTML pages under ``/``, the JSON API under ``/api``, assets under ``/static``.

    :param tracking_url: store URL (or a callable giving it); None resolves like every other command.
    :param airflow_url: Airflow's base URL for task-instance links (``""`` = same server, None = no links).
    :param page_size: rows per page of run and node lists.
    :param store: an existing handle to share (tests, benchmarks); otherwise one is made from ``tracking_url``.
    :param dependencies: FastAPI dependencies run before every page and API call (Airflow's login check).
    :param allowed_hosts: answer only requests whose ``Host`` is one of these (``name`` or ``name:port``,
        ``*`` for any); None checks nothing (inside Airflow, whose API server handles hosts itself).
    :param heavy_requests: whole-run requests (run page, run report, Gantt, lineage) served at once;
        others wait up to 20 s for a slot, then get 503 with ``Retry-After``.
    """
    from airflow_provider_databand_dbt.www import api, errors, incidents, pages

    app = FastAPI(
        title="databand-dbt web view",
        version=__version__,
        docs_url=None,
        redoc_url=None,
        openapi_url="/api/openapi.json",
        dependencies=list(dependencies),
    )
    app.state.store = store or StoreHandle(tracking_url)
    app.state.settings = WebSettings(airflow_url=airflow_url, page_size=page_size)
    app.state.heavy_requests = HeavyRequests(heavy_requests)
    app.state.run_cache = RunCache()
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.include_router(api.router)
    app.include_router(incidents.api)
    app.include_router(pages.router)
    app.include_router(incidents.pages)
    errors.install(app)
    if allowed_hosts is not None:
        from airflow_provider_databand_dbt.www.hosts import AllowedHosts

        app.add_middleware(AllowedHosts, allowed=list(allowed_hosts))
    return app
