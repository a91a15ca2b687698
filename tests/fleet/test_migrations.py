"""Migrations specify: applying them twice is harmless and yields exactly the models' schema,
on SQLite and PostgreSQL, except what PostgreSQL's partitioned readings need: their monthly
partitions (tables no model names), and the partition key in the primary key and the unique
item constraint (fleet/telemetry/partitions.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlmodel import SQLModel

from agrifleet.fleet.db import make_engine
from agrifleet.fleet.migrate import upgrade
from agrifleet.fleet.telemetry import partitions


def _described(diff: list[Any]) -> list[tuple[str, str, tuple[str, ...]]]:
    """(operation, name, columns) of each difference, to compare with what is expected."""
    return [(op, obj.name, tuple(c.name for c in obj.columns)) for op, obj in diff]


def test_upgrade_twice_matches_the_models(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        upgrade(engine)
        upgrade(engine)
        tables = set(inspect(engine).get_table_names())
        assert {"device", "reading", "detection", "event", "deviceboot", "apitoken",
                "latestreading", "alembic_version"} <= tables  # fmt: skip
        with engine.connect() as conn:
            context = MigrationContext.configure(
                conn, opts={"include_name": partitions.include_name}
            )
            diff = compare_metadata(context, SQLModel.metadata)
        primary_key = inspect(engine).get_pk_constraint("reading")["constrained_columns"]
        if engine.dialect.name == "sqlite":
            assert diff == []
            assert primary_key == ["id"]
            return
        assert _described(diff) == [
            ("remove_constraint", "uq_reading_item", partitions.PG_UNIQUE_ITEM),
            ("add_constraint", "uq_reading_item", ("device_id", "boot_id", "seq")),
        ]
        assert tuple(primary_key) == partitions.PG_PRIMARY_KEY
        assert partitions.partition_name(partitions.month_of(datetime.now(UTC))) in tables
        assert partitions.DEFAULT in tables
    finally:
        engine.dispose()
