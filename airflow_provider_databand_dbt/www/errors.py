"""What the web view answers when something is missing or wrong: a clear page (or JSON), never a traceback."""

from __future__ import annotations

import logging

import msgspec
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from airflow_provider_databand_dbt.tracking.errors import TrackingError, TrackingStoreUnavailable

log = logging.getLogger(__name__)


class WebError(Exception):
    """An answer other than 200 with a message meant for the reader.

    :param status_code: HTTP status to answer with.
    :param title: short heading of the error page.
    :param message: what happened and what to do; shown as text.
    """

    status_code = 400
    title = "Bad request"

    def __init__(self, message: str, *, title: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if title:
            self.title = title


class NotFound(WebError):
    status_code = 404
    title = "Not found"


class BadRequest(WebError):
    status_code = 400
    title = "Bad request"


class Busy(WebError):
    """Too many heavy requests at once: retry after ``retry_after`` seconds."""

    status_code = 503
    title = "Busy"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Ambiguous(Exception):
    """Several stored pipelines or runs answer to one id: pages list them to choose from (300), the API
    answers 409 with the ``matches``."""

    def __init__(self, what: str, matches: list) -> None:
        super().__init__(f"{len(matches)} {what} share this id")
        self.what = what
        self.matches = matches


def is_api(request: Request) -> bool:
    path = request.url.path[len(request.scope.get("root_path", "")) :]
    return path.startswith("/api/") or path == "/api"


def _answer(request: Request, status_code: int, title: str, message: str) -> Response:
    if is_api(request):
        return JSONResponse({"detail": message}, status_code=status_code)
    from airflow_provider_databand_dbt.www.render import render

    return render(request, "error.html", status_code=status_code, error_title=title, message=message, code=status_code)


async def _web_error(request: Request, error: WebError) -> Response:
    response = _answer(request, error.status_code, error.title, error.message)
    if isinstance(error, Busy):
        response.headers["Retry-After"] = str(error.retry_after)
    return response


async def _ambiguous(request: Request, ambiguous: Ambiguous) -> Response:
    if is_api(request):
        body = {
            "detail": f"several {ambiguous.what} share this id: pass account and host",
            "matches": ambiguous.matches,
        }
        return Response(msgspec.json.encode(body), status_code=409, media_type="application/json")
    from airflow_provider_databand_dbt.www.render import render

    # The choices link with account and host spelled out, so plain links serve every store.
    return render(request, "choose.html", status_code=300, what=ambiguous.what, matches=ambiguous.matches)


async def _http_error(request: Request, error: StarletteHTTPException) -> Response:
    if error.status_code == 404:
        message = "There is no page at this address. Pipelines are at /pipelines/JOB_ID, runs at /runs/RUN_ID."
        return _answer(request, 404, "Page not found", message)
    if error.status_code in (401, 403):
        return _answer(
            request,
            error.status_code,
            "Log in to Airflow first",
            f"{error.detail}. This view is part of Airflow: log in to Airflow, then open it again.",
        )
    return _answer(request, error.status_code, "Request not accepted", str(error.detail))


async def _validation_error(request: Request, error: RequestValidationError) -> Response:
    if is_api(request):
        return JSONResponse({"detail": error.errors()}, status_code=422)
    fields = ", ".join(str(e.get("loc", ["?"])[-1]) for e in error.errors())
    return _answer(request, 400, "Bad request", f"Invalid value for: {fields}.")


STORE_RETRY_AFTER_S = 5


async def _tracking_error(request: Request, error: TrackingError) -> Response:
    # The store's message names its URL, user and host, and the driver's words may too: every viewer is
    # anonymous, so the detail goes to the server log only.
    log.warning("Tracking store error on %s: %s", request.url.path, error)
    unavailable = isinstance(error, TrackingStoreUnavailable)
    response = _answer(
        request,
        503 if unavailable else 500,
        "Tracking store unavailable",
        "The tracking store cannot be read right now: it may be down, unreachable or misconfigured. "
        "The server log says why; retry in a moment.",
    )
    if unavailable:
        response.headers["Retry-After"] = str(STORE_RETRY_AFTER_S)
    return response


async def _unexpected(request: Request, error: Exception) -> Response:
    log.error("Web view failed on %s", request.url.path)
    return _answer(request, 500, "Something went wrong", "The page could not be built; the server log has the details.")


def install(app: FastAPI) -> None:
    app.add_exception_handler(WebError, _web_error)
    app.add_exception_handler(Ambiguous, _ambiguous)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(TrackingError, _tracking_error)
    app.add_exception_handler(Exception, _unexpected)
