"""The application factory.

``create_app(settings)`` wires the domain routers, the reporter pages, error mapping and
security middleware onto one database. It reads no environment itself; ``app_from_env`` is the
entry point uvicorn's workers call (each worker builds its own app from the same settings, then
removes what interrupted blob writes left behind: ``storage.blobs.remove_stale_temporaries``).

In production mode every worker runs the production checks before it builds anything and
refuses to start on the first problem: one sentence on the log, no traceback, and uvicorn's
"failed to start" exit status so that its supervisor stops instead of restarting the worker.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping

from fastapi import FastAPI

from safevoice.attachments.router import router as attachments_router
from safevoice.audit.router import router as audit_router
from safevoice.cases.router import router as cases_router
from safevoice.clock import utcnow
from safevoice.dialogue.router import router as dialogue_router
from safevoice.errors import ConfigError
from safevoice.instance import production
from safevoice.instance.flood import FloodMeter
from safevoice.intake.router import router as intake_router
from safevoice.lessons.router import router as lessons_router
from safevoice.members.router import router as members_router
from safevoice.retention.router import router as retention_router
from safevoice.settings import Settings
from safevoice.storage.batch import RowWriter
from safevoice.storage.blobs import open_blob_store, remove_stale_temporaries
from safevoice.storage.db import Database
from safevoice.storage.limits import DatabaseLimits
from safevoice.surveys.router import router as surveys_router
from safevoice.web import bundle, errors, pages, survey_pages
from safevoice.web.deps import SnapshotCache
from safevoice.web.security import BodyLimit, SecurityHeaders

API_PREFIX = "/api/v1"
# uvicorn's exit status for a worker that could not start (``uvicorn.config.STARTUP_FAILURE``):
# its multi-process supervisor then stops the server instead of restarting the worker forever.
STARTUP_FAILURE = 3
log = logging.getLogger("safevoice.web")


def create_app(
    settings: Settings,
    *,
    database: Database | None = None,
    env: Mapping[str, str] | None = None,
) -> FastAPI:
    owned = database is None
    database = database or Database.connect(
        settings.database_url, pool_size=settings.db_pool_size, limits=database_limits(settings)
    )
    installed: bundle.Bundle | None = None
    if settings.production:
        try:
            production.check_settings(settings, env=env)
            # Read before the database checks: they compare its pin with the manifest's root.
            installed = bundle.load(settings.bundle_dir) if settings.bundle_dir else None
            production.check_database(
                settings,
                database,
                now=utcnow(),
                migrate_schema=False,
                bundle_pin=installed.pin if installed is not None else None,
            )
        except ConfigError:
            if owned:
                database.dispose()
            raise
    app = FastAPI(
        title="SafeVoice",
        version="1",
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.database = database
    app.state.writer = RowWriter(app.state.database)
    app.state.blobs = open_blob_store(settings.blob_store, app.state.database)
    app.state.snapshots = SnapshotCache(app.state.database, settings.snapshot_ttl_seconds)
    app.state.flood = FloodMeter(
        settings.flood_per_minute, surge_seconds=settings.flood_surge_seconds
    )
    # The bundle is read and checked once, at start-up; the folder is never written.
    if installed is None and settings.bundle_dir is not None:
        installed = bundle.load(settings.bundle_dir)
    app.state.pages = pages.Pages.create(settings, installed)
    errors.install(app)
    app.include_router(pages.router)
    app.include_router(survey_pages.router)
    app.include_router(intake_router)
    app.include_router(members_router)
    app.include_router(cases_router)
    app.include_router(dialogue_router)
    app.include_router(attachments_router)
    app.include_router(retention_router)
    app.include_router(audit_router)
    app.include_router(surveys_router)
    app.include_router(lessons_router)
    problem = database.problem()
    if problem is not None:
        log.error("SafeVoice cannot accept reports: %s.", problem)
    app.add_middleware(BodyLimit, limit=settings.max_request_bytes)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(errors.LastResort)
    return app


def database_limits(settings: Settings) -> DatabaseLimits:
    return DatabaseLimits(
        connect=settings.db_connect_timeout,
        pool=settings.db_pool_timeout,
        statement=settings.db_statement_timeout,
    )


def app_from_env() -> FastAPI:
    """Factory for ``uvicorn --factory``: settings come from the environment at start-up."""
    try:
        app = create_app(Settings.from_env(), env=os.environ)
    except ConfigError as exc:
        log.error("SafeVoice refuses to start: %s", exc.message)
        sys.exit(STARTUP_FAILURE)
    # What a killed predecessor left mid-write goes now, so nothing needs cleaning by hand.
    remove_stale_temporaries(app.state.blobs, now=utcnow())
    return app
