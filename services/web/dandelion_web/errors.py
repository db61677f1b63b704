"""Every error a visitor can meet becomes a readable page with the right status.

A missing dandiset is a real 404 and a deleted one a 410 (never a soft 200 that search
engines index); a bad query parameter is a 400 naming it; an API that is down is a 502/504.
Only a bug is a 500, and it shows the same page without details.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from dandelion_web.client import UpstreamError
from dandelion_web.templating import render

logger = logging.getLogger(__name__)

TITLES = {
    400: "Bad request",
    401: "Sign-in required",
    403: "Not allowed",
    404: "Not found",
    405: "Method not allowed",
    410: "Gone",
    500: "Something went wrong",
    502: "The archive is unavailable",
    504: "The archive did not answer in time",
}


class PageGone(Exception):
    """A page whose object was deleted: answered 410 with a tombstone naming what was there."""

    def __init__(self, message: str, *, what: str) -> None:
        super().__init__(message)
        self.message = message
        self.what = what


def error_page(
    request: Request, status_code: int, message: str, *, what: str | None = None
) -> HTMLResponse:
    return render(
        request,
        "error.html",
        {
            "status_code": status_code,
            "title": TITLES.get(status_code, "Error"),
            "message": message,
            "what": what,
        },
        status_code=status_code,
    )


async def _http_error(request: Request, exc: Exception) -> HTMLResponse:
    assert isinstance(exc, StarletteHTTPException)
    message = exc.detail if isinstance(exc.detail, str) else TITLES.get(exc.status_code, "")
    if exc.status_code == 404 and exc.detail == "Not Found":
        message = "There is no page at this address."
    answer = error_page(request, exc.status_code, message)
    for name, value in (exc.headers or {}).items():
        answer.headers[name] = value
    return answer


async def _invalid(request: Request, exc: Exception) -> HTMLResponse:
    assert isinstance(exc, RequestValidationError)
    problems = [
        f"{'.'.join(str(p) for p in error['loc'][1:]) or 'request'}: {error['msg']}"
        for error in exc.errors()
    ]
    return error_page(request, 400, "; ".join(problems))


async def _upstream(request: Request, exc: Exception) -> HTMLResponse:
    assert isinstance(exc, UpstreamError)
    if exc.status_code >= 500:
        logger.warning("web: %s %s: %s", request.method, request.url.path, exc.message)
    return error_page(request, exc.status_code, exc.message)


async def _gone(request: Request, exc: Exception) -> HTMLResponse:
    assert isinstance(exc, PageGone)
    return error_page(request, 410, exc.message, what=exc.what)


async def _bug(request: Request, exc: Exception) -> HTMLResponse:
    logger.exception("web: %s %s failed", request.method, request.url.path)
    return error_page(request, 500, "The page could not be built. The error was logged.")


def install_error_pages(app: FastAPI) -> None:
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _invalid)
    app.add_exception_handler(UpstreamError, _upstream)
    app.add_exception_handler(PageGone, _gone)
    app.add_exception_handler(Exception, _bug)
