"""Apply the Alembic migrations in ``fleet/migrations`` to a database."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine

if TYPE_CHECKING:
    from alembic.config import Config

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


class MigrationError(RuntimeError):
    """The database's schema cannot be brought to this version (e.g. a newer agrifleet's)."""


def _quiet_alembic() -> None:
    """Alembic reports routine plugin set-up at INFO; keep it out of the service's log."""
    alembic_log = logging.getLogger("alembic")
    if alembic_log.level == logging.NOTSET:
        alembic_log.setLevel(logging.WARNING)


def alembic_config(engine: Engine) -> Config:
    """An Alembic config that runs on the given engine (no alembic.ini needed)."""
    _quiet_alembic()
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema up to ``revision`` (idempotent)."""
    config = alembic_config(engine)
    from alembic import command
    from alembic.util.exc import CommandError

    try:
        command.upgrade(config, revision)
    except CommandError as exc:
        raise MigrationError(str(exc)) from exc
    log.debug("database schema at %s", revision)
