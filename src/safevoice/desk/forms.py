"""Reading the desk's forms: in memory only, and only with the page's CSRF token.

Starlette spools a multipart part larger than 1 MiB to a temporary file; a file the member
attaches to a reply is plaintext, so the desk's parser keeps every part in memory (a request is
bounded by ``MAX_FORM_BYTES``) and nothing the member sends is written to disk.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Annotated

from fastapi import Depends, Request
from starlette.datastructures import FormData, UploadFile
from starlette.formparsers import FormParser, MultiPartException, MultiPartParser

from safevoice.desk.security import Admission
from safevoice.errors import BadRequest, Forbidden, TooLarge

MAX_FORM_BYTES = 64 * 1024 * 1024


class InMemoryMultiPartParser(MultiPartParser):
    # A part rolls over to a temporary file only above this size, which no admitted request
    # reaches (the body is counted below), so every part stays in memory.
    spool_max_size = MAX_FORM_BYTES + 1


async def read_form(request: Request) -> AsyncGenerator[FormData, None]:
    """The posted form, after checking its size and its CSRF token."""
    admission: Admission = request.app.state.admission
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_FORM_BYTES:
        raise TooLarge("The files are too large for one reply (at most 64 MiB together).")
    content_type = request.headers.get("content-type", "")
    try:
        if content_type.startswith("multipart/form-data"):
            form = await InMemoryMultiPartParser(
                request.headers,
                _bounded(request),
                max_files=20,
                max_fields=50,
                max_part_size=MAX_FORM_BYTES,
            ).parse()
        elif content_type.startswith("application/x-www-form-urlencoded"):
            form = await FormParser(request.headers, _bounded(request)).parse()
        else:
            raise BadRequest("The desk accepts only its own forms.")
    except MultiPartException as exc:
        raise BadRequest("The form could not be read.") from exc
    token = form.get("csrf")
    if not isinstance(token, str) or not admission.csrf_ok(token):
        raise Forbidden(
            "This form is not from the desk's current page (its security token is missing or "
            "old); nothing was done. Reload the page and try again."
        )
    try:
        yield form
    finally:
        await form.close()


async def _bounded(request: Request) -> AsyncGenerator[bytes, None]:
    seen = 0
    async for chunk in request.stream():
        seen += len(chunk)
        if seen > MAX_FORM_BYTES:
            raise TooLarge("The files are too large for one reply (at most 64 MiB together).")
        yield chunk


FormDep = Annotated[FormData, Depends(read_form)]


def text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


def files(form: FormData, name: str) -> list[UploadFile]:
    return [f for f in form.getlist(name) if isinstance(f, UploadFile) and f.filename]


def numbers(form: FormData, name: str) -> list[int]:
    """The whole numbers a field carries (checked boxes of one name); anything else is refused."""
    values = [v for v in form.getlist(name) if isinstance(v, str)]
    if not all(v.isdigit() and len(v) <= 6 for v in values):
        raise BadRequest("A chosen file is not one of the case's numbered files.")
    return [int(v) for v in values]
