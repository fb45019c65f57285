"""The one place that turns errors into HTTP answers.

Every refusal is JSON ``{"error": {"code", "message"}}`` with a sentence that never repeats the
input. Database trouble is a 503 with Retry-After, never a 500 (DESIGN.md, Contracts). Anything
unexpected is answered with a generic message and logged by type only, because exception
messages (SQL statements, parameters) can carry submitted data (invariant 3).
"""

from __future__ import annotations

import errno
import logging
from collections.abc import Mapping
from typing import Any, cast

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from safevoice.errors import SafeVoiceError

log = logging.getLogger("safevoice.web")
RETRY_AFTER_SECONDS = "5"

# FastAPI answers 400 itself only for a body it cannot even decode (not UTF-8 text).
HTTP_CODES = {400: "bad_request", 404: "not_found", 405: "method_not_allowed", 413: "too_large"}
HTTP_MESSAGES = {
    400: "The request body cannot be read as JSON text (UTF-8).",
    404: "There is nothing at this address.",
    405: "This address does not accept that method.",
    413: "The request is too large.",
}


def error_body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, **extra}}


def unavailable() -> JSONResponse:
    return JSONResponse(
        error_body(
            "unavailable",
            "The service is temporarily unavailable; nothing was lost. "
            "Please try again in a moment.",
        ),
        status_code=503,
        headers={"Retry-After": RETRY_AFTER_SECONDS},
    )


def _for_person(request: Request) -> bool:
    """Reporter pages answer errors with a page in the catalogue's words; the API with JSON."""
    path = request.url.path
    return (
        not path.startswith("/api/")
        and not path.startswith("/static/")
        and getattr(request.app.state, "pages", None) is not None
    )


def _page(request: Request, status: int, headers: Mapping[str, str] | None = None) -> Response:
    response: Response = request.app.state.pages.error(status, request)
    response.headers.update(headers or {})
    return response


def _safevoice_error(request: Request, raised: Exception) -> Response:
    exc = cast(SafeVoiceError, raised)
    headers = {}
    if exc.status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    if exc.status in (429, 503):
        headers["Retry-After"] = RETRY_AFTER_SECONDS
    if _for_person(request):
        return _page(request, exc.status, headers)
    return JSONResponse(error_body(exc.code, exc.message), status_code=exc.status, headers=headers)


def _validation_error(_request: Request, raised: Exception) -> JSONResponse:
    exc = cast(RequestValidationError, raised)
    fields = [
        {"location": _location(error), "problem": str(error.get("msg", "invalid"))}
        for error in exc.errors()[:20]
    ]
    return JSONResponse(
        error_body("invalid_request", "The request is not valid.", fields=fields),
        status_code=422,
    )


def _location(error: Any) -> str:
    """Where the problem is, without repeating anything the client chose (a field it invented
    is named only as "an unknown field")."""
    parts = [str(part) for part in error.get("loc", ())]
    if error.get("type") == "extra_forbidden" and parts:
        parts[-1] = "(unknown field)"
    if error.get("type") == "json_invalid":
        parts = parts[:1]
    return ".".join(parts)


def _http_error(request: Request, raised: Exception) -> Response:
    exc = cast(HTTPException, raised)
    if _for_person(request):
        return _page(request, exc.status_code, exc.headers)
    message = HTTP_MESSAGES.get(exc.status_code, "The request was refused.")
    code = HTTP_CODES.get(exc.status_code, "http_error")
    return JSONResponse(error_body(code, message), status_code=exc.status_code, headers=exc.headers)


def _integrity_error(_request: Request, _exc: Exception) -> JSONResponse:
    return JSONResponse(
        error_body("conflict", "The request conflicts with data already stored."),
        status_code=409,
    )


def storage_full() -> JSONResponse:
    return JSONResponse(
        error_body(
            "storage_full",
            "The server's storage is full, so nothing was stored; what it had already "
            "confirmed is safe. Please try again later.",
        ),
        status_code=507,
        headers={"Retry-After": RETRY_AFTER_SECONDS},
    )


SQLITE_FULL = 13
POSTGRES_DISK_FULL = "53100"


def is_storage_full(exc: BaseException) -> bool:
    """A full disk under the database (SQLite's SQLITE_FULL, PostgreSQL's disk_full) or
    under the blob store (ENOSPC)."""
    if isinstance(exc, OSError):
        return exc.errno == errno.ENOSPC
    orig = getattr(exc, "orig", None)
    return (
        getattr(orig, "sqlite_errorcode", None) == SQLITE_FULL
        or getattr(orig, "sqlstate", None) == POSTGRES_DISK_FULL
    )


def _database_error(request: Request, exc: Exception) -> Response:
    full = is_storage_full(exc)
    log.warning("%s (%s)", "storage full" if full else "database unavailable", type(exc).__name__)
    status = 507 if full else 503
    if _for_person(request):
        if request.app.state.database.unwritable() is not None:
            response: Response = request.app.state.pages.not_accepting(request)
            return response
        return _page(request, status, {"Retry-After": RETRY_AFTER_SECONDS})
    return storage_full() if full else unavailable()


def install(app: FastAPI) -> None:
    app.add_exception_handler(SafeVoiceError, _safevoice_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(sa_exc.IntegrityError, _integrity_error)
    for error in (
        OSError,
        sa_exc.OperationalError,
        sa_exc.InterfaceError,
        sa_exc.DatabaseError,
        sa_exc.TimeoutError,
        sa_exc.DisconnectionError,
    ):
        app.add_exception_handler(error, _database_error)


class LastResort:
    """Outermost guard: an unexpected exception becomes a generic answer, logged by type only.

    Starlette would otherwise log the exception with its message, which may quote a SQL
    statement with the submitted values.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:  # noqa: BLE001 - the point is to catch everything
            log.error("unexpected error (%s)", type(exc).__name__)
            if started:
                return
            if is_storage_full(exc):
                response = storage_full()
            elif isinstance(exc, sa_exc.SQLAlchemyError | OSError):
                response = unavailable()
            else:
                response = JSONResponse(
                    error_body(
                        "internal",
                        "Something went wrong on the server; nothing was stored. Please try again.",
                    ),
                    status_code=500,
                )
            await response(scope, receive, send)
