"""Calling the application in-process through httpx, synchronously."""

from __future__ import annotations

import asyncio

import httpx
from fastapi import FastAPI


class SyncASGITransport(httpx.BaseTransport):
    """Run each request through the ASGI app on a fresh event loop."""

    def __init__(self, app: FastAPI) -> None:
        self._transport = httpx.ASGITransport(app=app)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        async def run() -> httpx.Response:
            request.stream = httpx.ByteStream(request.read())
            response = await self._transport.handle_async_request(request)
            content = await response.aread()
            return httpx.Response(
                response.status_code,
                headers=response.headers,
                content=content,
                request=request,
            )

        return asyncio.run(run())


def client_for(app: FastAPI) -> httpx.Client:
    return httpx.Client(transport=SyncASGITransport(app), base_url="http://testserver")
