"""An app wrapper that makes the server look unavailable to a client, for retry tests."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from safevoice.web.errors import unavailable


@dataclass
class LosesAnswers:
    """For the next ``count`` requests to ``path``: let the app handle the request (so what it
    stores is stored) when ``store`` is true, then answer 503 instead of the real answer."""

    app: ASGIApp
    path: str = "/api/v1/cases"
    count: int = 0
    store: bool = True

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == self.path and self.count > 0:
            self.count -= 1

            async def lost(_message: Message) -> None:
                return None

            if self.store:
                await self.app(scope, receive, lost)
            response: JSONResponse = unavailable()
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)
