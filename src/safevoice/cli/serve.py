"""``safevoice serve``: run the web application with uvicorn, access logs off.

Invariant 3: uvicorn's access log is disabled and the log format carries no client address;
the application logs only fixed messages and counts.
"""

from __future__ import annotations

import os
from typing import Annotated, Any

import typer
import uvicorn

LOG_CONFIG: dict[str, Any] = {
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
        "uvicorn": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
        "uvicorn.error": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
        "uvicorn.access": {"handlers": [], "level": "CRITICAL", "propagate": False},
        "safevoice": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
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
) -> None:
    """Run the SafeVoice server (reporter pages and API)."""
    if database:
        os.environ["SAFEVOICE_DATABASE_URL"] = database
    uvicorn.run(
        "safevoice.web.app:app_from_env",
        factory=True,
        host=host,
        port=port,
        uds=uds,
        workers=workers,
        access_log=False,
        log_config=LOG_CONFIG,
        server_header=False,
        date_header=False,
        proxy_headers=False,
        timeout_graceful_shutdown=10,
    )
