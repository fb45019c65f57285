"""The refusals each API operation can answer, declared once: the OpenAPI document tells the truth.

Every refusal has the body of ``web/errors.py`` (``{"error": {"code", "message"}}``, plus
``fields`` for 422). What an operation can refuse follows mostly from what it depends on, so
each router's ``route_class=DeclaredRoute`` derives it from the route's dependencies:

- every operation: 413 (a body announced or found larger than the limit, ``BodyLimit``), 503
  (the database or the instance is not available) and 507 (its disk is full), both with
  ``Retry-After``;
- any parameter or body: 422 (validation, with ``fields``); a JSON body: 400 if not UTF-8 text;
- a path parameter: 404 (no such object, or not one the caller may see);
- a bearer token, required or optional: 401; a role required of the session: 403.

What only the domain's rules can refuse (400 for a broken rule, 404 without a path parameter,
409 for a conflict) each route states with ``responses=refusals(...)``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from fastapi.dependencies.models import Dependant
from fastapi.dependencies.utils import get_dependant
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict

from safevoice.web import deps


class FieldProblem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    location: str
    problem: str


class ErrorDetail(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str
    message: str
    fields: list[FieldProblem] | None = None


class ErrorOut(BaseModel):
    """The body of every refusal (docs/protocol/sessions-and-http.md, 11.2)."""

    model_config = ConfigDict(extra="forbid")

    error: ErrorDetail


WHEN = {
    400: "A rule of the request is broken (bad_request, bad_encoding, bad_envelope, "
    "challenge_rejected, bad_code).",
    401: "No, an unknown or an expired session token; or a failed login.",
    403: "The session's role may not do this.",
    404: "There is no such object, or the caller may not know of it.",
    409: "The request conflicts with data already stored.",
    413: "The request body is larger than this server accepts.",
    429: "The server holds as many unsent files as it has room for; retry after `Retry-After`.",
    422: "A parameter, header or body fails validation; `fields` names where.",
    503: "The database or the instance is not available; retry after `Retry-After` seconds.",
    507: "The disk under the database or the files is full; nothing was stored.",
}

# Dependencies that read a bearer token (401), and those that also require a role (403).
_TOKEN_READERS: frozenset[Callable[..., Any]] = frozenset(
    {deps.bearer_token, deps.optional_principal, deps.refuse_auditor}
)
_ROLE_CHECKS: frozenset[Callable[..., Any]] = frozenset(
    {
        deps.current_member,
        deps.current_recipient,
        deps.current_member_or_auditor,
        deps.current_reporter,
        deps.current_auditor,
        deps.refuse_auditor,
    }
)


def refusals(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` entries for these statuses, each with the error body and its meaning."""
    return {status: {"model": ErrorOut, "description": WHEN[status]} for status in statuses}


def _dependants(dependant: Dependant) -> Iterator[Dependant]:
    yield dependant
    for sub in dependant.dependencies:
        yield from _dependants(sub)


def statuses_of(dependant: Dependant) -> set[int]:
    """The refusals an operation can give because of what it depends on and what it takes."""
    found = {413, 503, 507}
    tree = list(_dependants(dependant))
    calls = {d.call for d in tree if d.call is not None}
    if any(d.path_params for d in tree):
        found.add(404)
    if any(d.path_params or d.query_params or d.header_params or d.body_params for d in tree):
        found.add(422)
    if any(d.body_params for d in tree):
        found.add(400)  # a body that is not even UTF-8 text (FastAPI's own 400)
    if calls & _TOKEN_READERS:
        found.add(401)
    if calls & _ROLE_CHECKS:
        found.add(403)
    return found


class DeclaredRoute(APIRoute):
    """An API route whose OpenAPI entry lists every refusal it can give (``route_class=``)."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        derived = statuses_of(get_dependant(path=path, call=endpoint))
        kwargs["responses"] = {**refusals(*sorted(derived)), **(kwargs.get("responses") or {})}
        super().__init__(path, endpoint, **kwargs)
