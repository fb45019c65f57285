"""The baseline: a bare FastAPI endpoint that accepts and validates the same submission JSON
and does nothing else (no proof of work, no cryptography, no database)."""

from __future__ import annotations

from fastapi import FastAPI, status

from safevoice.protocol.wire import SubmissionIn


def create() -> FastAPI:
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

    @app.post("/api/v1/cases", status_code=status.HTTP_201_CREATED)
    def accept(body: SubmissionIn) -> dict[str, str]:
        return {"case_id": body.case.id}

    @app.get("/api/v1/manifest")
    def ready() -> dict[str, str]:
        return {}

    return app
