"""``safevoice serve``: run the web application with uvicorn, access logs off.

Supervision: uvicorn's own multiprocess supervisor, with its worker health-check timeout taken
from the settings (``SAFEVOICE_WORKER_HEALTHCHECK_TIMEOUT``, 120 s by default) instead of
uvicorn's 5 s. A worker that exits is replaced at once; one that is merely slow to answer the
ping, because the host is saturated while it starts or serves a flood, is left to work. The
demo, the deploy files (systemd, the container) and the test servers all start through here.

Invariant 3: uvicorn's access log is disabled and the log format carries no client address;
the application logs only fixed messages and counts.

In production mode (``SAFEVOICE_PRODUCTION=1``) the command first brings the database to the
current schema and runs every production check once, before any worker starts; on the first
problem it prints one sentence and exits with status 78 (``EX_CONFIG``), which the shipped
systemd unit treats as "do not restart". Each worker checks again on its own.
"""

from __future__ import annotations

import os
from typing import Annotated, Any

import typer
import uvicorn

from safevoice.cli.common import err_console
from safevoice.errors import ConfigError
from safevoice.settings import Settings

EXIT_CONFIG = 78  # sysexits.h EX_CONFIG: a configuration error that a restart will not fix


def log_config(level: str = "INFO") -> dict[str, Any]:
    """uvicorn's logging: plain lines on standard error, no access logger at all."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"plain": {"format": "%(levelname)s %(name)s: %(message)s"}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "plain",
                "stream": "ext://sys.stderr",
            },
        },
        "loggers": {
            "uvicorn": {"handlers": ["stderr"], "level": level, "propagate": False},
            "uvicorn.error": {"handlers": ["stderr"], "level": level, "propagate": False},
            "uvicorn.access": {"handlers": [], "level": "CRITICAL", "propagate": False},
            "safevoice": {"handlers": ["stderr"], "level": level, "propagate": False},
        },
    }


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 2,
    database: Annotated[
        str | None, typer.Option(help="Database URL (default: SAFEVOICE_DATABASE_URL).")
    ] = None,
    uds: Annotated[str | None, typer.Option(help="Listen on this Unix socket instead.")] = None,
    worker_healthcheck_timeout: Annotated[
        int | None,
        typer.Option(
            help="Seconds a live worker may take to answer the supervisor before it is "
            "replaced (default: SAFEVOICE_WORKER_HEALTHCHECK_TIMEOUT, else 120).",
            min=1,
        ),
    ] = None,
) -> None:
    """Run the SafeVoice server (reporter pages and API)."""
    if database:
        os.environ["SAFEVOICE_DATABASE_URL"] = database
    if worker_healthcheck_timeout is not None:
        os.environ["SAFEVOICE_WORKER_HEALTHCHECK_TIMEOUT"] = str(worker_healthcheck_timeout)
    try:
        settings = Settings.from_env()
        if settings.production:
            _check_production(settings)
    except ConfigError as exc:
        err_console.print(f"Error: {exc.message}", markup=False)
        raise typer.Exit(code=EXIT_CONFIG) from None
    uvicorn.run(
        "safevoice.web.app:app_from_env",
        factory=True,
        host=host,
        port=port,
        uds=uds,
        workers=workers,
        access_log=False,
        log_config=log_config(settings.log_level),
        server_header=False,
        date_header=False,
        proxy_headers=False,
        timeout_graceful_shutdown=10,
        timeout_worker_healthcheck=settings.worker_healthcheck_timeout,
    )


def _check_production(settings: Settings) -> None:
    """Migrate and run the production checks once, in this process, before any worker."""
    # Imported here: outside production mode the supervisor never needs the database layer or
    # the web app, and each worker imports them for itself.
    from safevoice.clock import utcnow
    from safevoice.instance import production
    from safevoice.storage.db import Database
    from safevoice.web import bundle

    production.check_settings(settings, env=os.environ)
    pin = None
    if settings.bundle_dir is not None:
        # Every file against the bundle record, as each worker will: refused here, once.
        pin = bundle.load(settings.bundle_dir).pin
    db = Database.connect(settings.database_url, pool_size=2)
    try:
        production.check_database(settings, db, now=utcnow(), migrate_schema=True, bundle_pin=pin)
    finally:
        db.dispose()
