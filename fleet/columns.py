"""Column types every table of the fleet uses: aware UTC datetimes on SQLite and PostgreSQL,
autoincrementing BIGINT ids."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    DateTime,
    Integer,
)
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

#: An autoincrementing id: BIGINT on PostgreSQL, the rowid alias on SQLite.
BigId = BigInteger().with_variant(Integer(), "sqlite")


def utcnow() -> datetime:
    return datetime.now(UTC)


#: Years SQLite may hold with fewer than four digits ("1-01-01 …", from strftime, unpadded).
_SHORT_YEAR = re.compile(r"(\d{1,3})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)(?:\.(\d{6}))?$")


class _SqliteDateTime(sqlite.DATETIME):
    """SQLite's DATETIME (ISO text), also reading years an older writer did not pad."""

    def result_processor(self, dialect: Dialect, coltype: object) -> Any:
        def process(value: str | None) -> datetime | None:
            if value is None:
                return None
            try:
                return datetime.fromisoformat(value)
            except ValueError:
                found = _SHORT_YEAR.match(value)
                if found is None:
                    raise
                y, mo, d, h, mi, sec, us = (int(part or 0) for part in found.groups())
                return datetime(y, mo, d, h, mi, sec, us)

        return process


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in and out on every database (naive input counts as UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(_SqliteDateTime())
        return dialect.type_descriptor(self.impl)

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
