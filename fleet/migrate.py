"""Apply the Alembic migrations in ``fleet/migrations`` to a database."""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(engine: Engine) -> Config:
    """An Alembic config that runs on the given engine (no alembic.ini needed)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema up to ``revision`` (idempotent)."""
    alembic_log = logging.getLogger("alembic")
    if alembic_log.level == logging.NOTSET:  # it reports routine plugin set-up at INFO
        alembic_log.setLevel(logging.WARNING)
    command.upgrade(alembic_config(engine), revision)
    log.debug("database schema at %s", revision)
