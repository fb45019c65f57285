"""The application factory.

``create_app(settings)`` wires the domain routers, the reporter pages, error mapping and
security middleware onto one database. It reads no environment itself; ``app_from_env`` is the
entry point uvicorn's workers call (each worker builds its own app from the same settings).
"""

from __future__ import annotations

from fastapi import FastAPI

from safevoice.attachments.router import router as attachments_router
from safevoice.cases.router import router as cases_router
from safevoice.dialogue.router import router as dialogue_router
from safevoice.intake.router import router as intake_router
from safevoice.members.router import router as members_router
from safevoice.settings import Settings
from safevoice.storage.batch import RowWriter
from safevoice.storage.blobs import open_blob_store
from safevoice.storage.db import Database
from safevoice.web import bundle, errors, pages
from safevoice.web.deps import SnapshotCache
from safevoice.web.security import BodyLimit, SecurityHeaders

API_PREFIX = "/api/v1"


def create_app(settings: Settings, *, database: Database | None = None) -> FastAPI:
    app = FastAPI(
        title="SafeVoice",
        version="1",
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.database = database or Database.connect(settings.database_url)
    app.state.writer = RowWriter(app.state.database)
    app.state.blobs = open_blob_store(settings.blob_store, app.state.database)
    app.state.snapshots = SnapshotCache(app.state.database, settings.snapshot_ttl_seconds)
    # The bundle is read and checked once, at start-up; the folder is never written.
    installed = bundle.load(settings.bundle_dir) if settings.bundle_dir is not None else None
    app.state.pages = pages.Pages.create(settings, installed)
    errors.install(app)
    app.include_router(pages.router)
    app.include_router(intake_router)
    app.include_router(members_router)
    app.include_router(cases_router)
    app.include_router(dialogue_router)
    app.include_router(attachments_router)
    app.add_middleware(BodyLimit, limit=settings.max_request_bytes)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(errors.LastResort)
    return app


def app_from_env() -> FastAPI:
    """Factory for ``uvicorn --factory``: settings come from the environment at start-up."""
    return create_app(Settings.from_env())
