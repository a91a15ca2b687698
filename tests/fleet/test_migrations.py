"""Migrations specify: applying them twice is harmless and yields exactly the models' schema,
on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlmodel import SQLModel

from fleet.db import make_engine
from fleet.migrate import upgrade


def test_upgrade_twice_matches_the_models(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        upgrade(engine)
        upgrade(engine)
        tables = set(inspect(engine).get_table_names())
        assert {"device", "reading", "detection", "event", "deviceboot", "apitoken",
                "latestreading", "alembic_version"} <= tables  # fmt: skip
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
        assert diff == []
    finally:
        engine.dispose()
