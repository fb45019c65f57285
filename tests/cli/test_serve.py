"""``safevoice serve``'s logging: the level is the operator's, the access log is never on."""

from __future__ import annotations

from safevoice.cli.serve import log_config


def test_the_log_level_applies_to_safevoice_and_uvicorn_but_never_opens_the_access_log() -> None:
    config = log_config("WARNING")
    loggers = config["loggers"]

    assert loggers["safevoice"]["level"] == "WARNING"
    assert loggers["uvicorn.error"]["level"] == "WARNING"
    assert loggers["uvicorn.access"] == {"handlers": [], "level": "CRITICAL", "propagate": False}
    assert "%(client_addr)s" not in str(config)
