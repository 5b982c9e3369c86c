"""Every error leaves the API as JSON ``{"error": code, "message": text}`` with the right status; nothing
returns a stack trace. Unexpected exceptions are logged with a request id that the answer repeats.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from psycopg_pool import PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.db import UNAVAILABLE

log = logging.getLogger(__name__)

_CODES = {
    400: "bad_request", 401: "not_authenticated", 403: "forbidden", 404: "not_found",
    405: "method_not_allowed", 409: "conflict", 413: "too_large", 415: "unsupported_media_type",
    416: "range_not_satisfiable", 422: "invalid", 429: "too_many_requests", 503: "unavailable",
}


class ApiError(Exception):
    """Raised by routes for an answer other than success: ``status``, a short ``code`` and a message."""

    def __init__(self, status: int, message: str, *, code: str | None = None,
                 headers: dict[str, str] | None = None, extra: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code or _CODES.get(status, "error")
        self.message = message
        self.headers = headers
        self.extra = extra or {}


def not_found(what: str) -> ApiError:
    return ApiError(404, f"{what} not found")


def error_body(status: int, message: str, code: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"error": code or _CODES.get(status, "error"), "message": message, **extra}


def _validation_message(exc: RequestValidationError) -> tuple[str, list[dict[str, Any]]]:
    problems = []
    for err in exc.errors():
        location = ".".join(str(part) for part in err.get("loc", ()) if part != "body") or "request"
        # Only the location and the message: the offending input may be large or hostile.
        problems.append({"field": location, "problem": str(err.get("msg", "invalid"))})
    first = problems[0] if problems else {"field": "request", "problem": "invalid"}
    return f"{first['field']}: {first['problem']}", problems


def install(app: FastAPI) -> None:
    """Register the handlers that turn every failure into the JSON shape above."""

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(error_body(exc.status, exc.message, exc.code, **exc.extra), exc.status,
                            headers=exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = exc.detail if isinstance(exc.detail, str) else _CODES.get(exc.status_code, "error")
        return JSONResponse(error_body(exc.status_code, message), exc.status_code,
                            headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        message, problems = _validation_message(exc)
        return JSONResponse(error_body(422, message, problems=problems), 422)

    @app.exception_handler(PoolTimeout)
    async def _pool_timeout(request: Request, exc: PoolTimeout) -> JSONResponse:
        log.error("no database connection available: %s", exc)
        return JSONResponse(error_body(503, "the database is busy or unreachable; try again"), 503,
                            headers={"Retry-After": "5"})

    for error_type in UNAVAILABLE:
        @app.exception_handler(error_type)
        async def _db_away(request: Request, exc: Exception) -> JSONResponse:
            log.error("database unavailable: %s", exc.__class__.__name__)
            return JSONResponse(error_body(503, "the database is unreachable; try again"), 503,
                                headers={"Retry-After": "5"})

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        request_id = uuid.uuid4().hex[:12]
        log.exception("request %s %s failed (id %s)", request.method, request.url.path, request_id)
        return JSONResponse(
            error_body(500, f"internal error (request id {request_id}; see the API log)",
                       request_id=request_id),
            500,
        )
