"""Map every error to DANDI's shapes, once, for every app."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from dandelion_common.errors import BACKEND_UNAVAILABLE, ArchiveError, StorageUnavailable
from dandelion_common.web.openapi import document_validation_errors

logger = logging.getLogger("dandelion.errors")


def _archive_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ArchiveError)
    return JSONResponse(exc.body(), status_code=exc.status_code, headers=exc.headers)


def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    """Field errors as DRF renders them: `{"field": ["message"]}` with status 400."""
    assert isinstance(exc, RequestValidationError)
    fields: dict[str, list[str]] = {}
    for error in exc.errors():
        loc = [str(part) for part in error.get("loc", ()) if part not in ("body", "query", "path")]
        fields.setdefault(".".join(loc) or "non_field_errors", []).append(str(error.get("msg")))
    return JSONResponse(fields, status_code=400)


def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = "Not found." if exc.status_code == 404 else exc.detail
    return JSONResponse({"detail": detail}, status_code=exc.status_code, headers=exc.headers)


def _storage_unavailable(_: Request, exc: Exception) -> JSONResponse:
    logger.warning("storage unavailable", extra={"error": str(exc)})
    return JSONResponse(
        {"detail": "Storage is temporarily unavailable."},
        status_code=503,
        headers={"Retry-After": "5"},
    )


def _backend_unavailable(request: Request, exc: Exception) -> JSONResponse:
    """PostgreSQL or Redis unreachable or timing out: not the client's fault, and retryable."""
    logger.warning(
        "backend unavailable", extra={"path": request.url.path, "error": repr(exc)[:300]}
    )
    return JSONResponse(
        {"detail": "A backing service is temporarily unavailable."},
        status_code=503,
        headers={"Retry-After": "5"},
    )


def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    logger.exception("unhandled error", extra={"path": request.url.path}, exc_info=exc)
    return JSONResponse({"detail": "Internal server error."}, status_code=500)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ArchiveError, _archive_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    document_validation_errors(app)  # the OpenAPI document says 400 too, not FastAPI's 422
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(StorageUnavailable, _storage_unavailable)
    for unavailable in BACKEND_UNAVAILABLE:
        app.add_exception_handler(unavailable, _backend_unavailable)
    app.add_exception_handler(Exception, _unexpected)
