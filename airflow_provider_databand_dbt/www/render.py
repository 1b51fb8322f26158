"""Jinja2 rendering for the pages: autoescaped templates, our filters, and links relative to the mount point."""

from __future__ import annotations

from datetime import datetime, timezone
from functools import lru_cache
from typing import Any, Optional
from urllib.parse import urlencode

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse

from airflow_provider_databand_dbt.www import charts
from airflow_provider_databand_dbt.www.format import jinja_filters
from airflow_provider_databand_dbt.www.urls import Urls


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("airflow_provider_databand_dbt.www", "templates"),
        autoescape=True,  # node names and messages are data, shown as text
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
        auto_reload=False,  # templates ship with the package; no stat() per render
    )
    env.filters.update(jinja_filters())
    env.globals.update(sparkline=charts.sparkline)
    return env


def root_of(request: Request) -> str:
    return request.scope.get("root_path", "") or ""


def page_url(request: Request, **changes: Any) -> str:
    """The current page with some query parameters changed (``None`` removes one): pagers and filters."""
    params = dict(request.query_params)
    for key, value in changes.items():
        if value is None or value == "":
            params.pop(key, None)
        else:
            params[key] = str(value)
    query = urlencode(params)
    # The ASGI path includes the mount prefix (root_path), so links stay inside Airflow's mount.
    return request.url.path + (f"?{query}" if query else "")


def render(
    request: Request,
    template: str,
    *,
    status_code: int = 200,
    urls: Optional[Urls] = None,
    **context: Any,
) -> HTMLResponse:
    settings = request.app.state.settings
    html = (
        environment()
        .get_template(template)
        .render(
            request=request,
            u=urls or Urls(root_of(request)),
            settings=settings,
            store_display=request.app.state.store.public_url,
            now=datetime.now(timezone.utc),
            page_url=lambda **changes: page_url(request, **changes),
            **context,
        )
    )
    return HTMLResponse(html, status_code=status_code)
