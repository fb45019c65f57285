"""The desk's app factory: one member's local web app on 127.0.0.1.

``create_desk_app`` wires the admission guard (``security.py``), the templates and the desk's
own static files; ``routes.py`` holds the pages. Errors from the client code become the page
they happened on with the sentence in a clear alert and a 4xx status, never a stack trace.
"""

from __future__ import annotations

from pathlib import Path

import jinja2
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from starlette.exceptions import HTTPException
from starlette.staticfiles import StaticFiles

from safevoice.desk import learning, routes
from safevoice.desk.security import Admission, DeskGuard
from safevoice.desk.state import Desk
from safevoice.errors import SafeVoiceError

HERE = Path(__file__).parent
STATIC = HERE / "static"


def templates() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["plain"] = routes.plain
    return env


def create_desk_app(desk: Desk, admission: Admission) -> DeskGuard:
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    app.state.desk = desk
    app.state.admission = admission
    app.state.templates = templates()
    app.include_router(routes.router)
    app.include_router(learning.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.exception_handler(routes.Locked)
    async def locked(request: Request, _exc: Exception) -> Response:
        if request.method == "GET":
            return RedirectResponse("/unlock", status_code=303)
        return routes.render(
            request,
            "unlock.html",
            status=401,
            error="The desk is locked, so nothing was done; unlock it first.",
            **routes.unlock_values(desk),
        )

    @app.exception_handler(SafeVoiceError)
    async def failed(request: Request, exc: Exception) -> Response:
        message = exc.message if isinstance(exc, SafeVoiceError) else "Something went wrong."
        status = routes.status_of(exc) if isinstance(exc, SafeVoiceError) else 400
        return routes.render(
            request, "message.html", status=status, heading="Not done", text=message
        )

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: Exception) -> Response:
        code = exc.status_code if isinstance(exc, HTTPException) else 400
        text = "There is no such page on the desk." if code == 404 else "The desk cannot do that."
        return routes.render(request, "message.html", status=code, heading="Not done", text=text)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, _exc: Exception) -> Response:
        return routes.render(
            request,
            "message.html",
            status=400,
            heading="Not done",
            text="Something in the address or the form is not valid; go back and check it.",
        )

    return DeskGuard(app, admission=admission)
