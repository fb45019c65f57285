"""Calling the application in-process through httpx, synchronously."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import httpx
from fastapi import FastAPI

T = TypeVar("T")


def run_async(start: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run the coroutine ``start`` makes on a fresh event loop of its own thread: the test
    thread may already run Playwright's (see ``SyncASGITransport``)."""
    with ThreadPoolExecutor(max_workers=1) as thread:
        return thread.submit(lambda: asyncio.run(start())).result()


class SyncASGITransport(httpx.BaseTransport):
    """Run each request through the ASGI app on a fresh event loop.

    The loop runs on a thread of its own, because Playwright's synchronous API keeps an event
    loop running on the test thread while the browser tests' session-wide browser is open.
    """

    def __init__(self, app: FastAPI) -> None:
        self._transport = httpx.ASGITransport(app=app)
        self._thread = ThreadPoolExecutor(max_workers=1)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        async def run() -> httpx.Response:
            request.stream = httpx.ByteStream(request.read())
            response = await self._transport.handle_async_request(request)
            raw = b"".join([chunk async for chunk in response.aiter_raw()])
            # The raw bytes: httpx decodes a compressed body once, when it is read.
            answer = httpx.Response(
                response.status_code,
                headers=response.headers,
                stream=httpx.ByteStream(raw),
                request=request,
            )
            answer.read()
            return answer

        return self._thread.submit(asyncio.run, run()).result()

    def close(self) -> None:
        self._thread.shutdown(wait=True)


def client_for(app: FastAPI) -> httpx.Client:
    return httpx.Client(transport=SyncASGITransport(app), base_url="http://testserver")
