"""Alembic, driven from code: the schema is always built by the migrations in ``migrations/``.

Several hosts may start at once against one PostgreSQL database, so ``upgrade_exclusively``
holds an advisory lock while it migrates: the first host migrates, the others wait and then
find the schema current. (On SQLite the writer engine already serialises processes.)
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import Engine, text

from safevoice.errors import ConfigError

# An arbitrary fixed key for pg_advisory_lock: "one SafeVoice migration at a time".
MIGRATION_LOCK_KEY = 0x5AFE_501CE


def script_location() -> Path:
    """``migrations/`` in a source checkout, or its copy inside an installed wheel."""
    here = Path(__file__).resolve()
    for candidate in (here.parents[3] / "migrations", here.parents[1] / "_migrations"):
        if (candidate / "env.py").is_file():
            return candidate
    raise ConfigError("The database migrations are missing from this installation.")


def _config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(script_location()))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    command.upgrade(_config(engine), revision)


def downgrade(engine: Engine, revision: str) -> None:
    command.downgrade(_config(engine), revision)


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str | None:
    config = Config()
    config.set_main_option("script_location", str(script_location()))
    return ScriptDirectory.from_config(config).get_current_head()


def is_current(engine: Engine) -> bool:
    return current_revision(engine) == head_revision()


def is_known(revision: str) -> bool:
    """Whether this installation has the migration ``revision`` (a newer version may not)."""
    config = Config()
    config.set_main_option("script_location", str(script_location()))
    try:
        return ScriptDirectory.from_config(config).get_revision(revision) is not None
    except CommandError:
        return False


def upgrade_exclusively(engine: Engine) -> None:
    """Upgrade to head; on PostgreSQL under an advisory lock held for the whole migration."""
    if engine.dialect.name != "postgresql":
        upgrade(engine)
        return
    with engine.connect() as lock:
        lock.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        try:
            if not is_current(engine):
                upgrade(engine)
        finally:
            lock.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK_KEY})
            lock.commit()
