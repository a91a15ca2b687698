"""Monthly partitions of the readings on PostgreSQL: made ahead of time, dropped by retention.

Since migration 0010, PostgreSQL's ``reading`` is partitioned by range of ``ts``: one partition
per UTC month, ``reading_p2026_12`` holding December 2026, and ``reading_default`` for readings
dated outside every month (a node whose clock is far off). :func:`ensure` makes the partitions
of the current month and of the ``AHEAD`` months after it; the writer runs it when it starts and
the retention thread at each pass (fleet/farmdata/retention.py), so a month has its partition long
before
it begins. Retention drops the partitions of months wholly before its cutoff
(:func:`drop_before`). SQLite keeps one plain table: every function here does nothing on it.

A month's partition is created apart and then attached (``ATTACH PARTITION`` takes a lighter
lock on ``reading`` than ``CREATE TABLE … PARTITION OF``, which would stop every reader of the
table), after moving into it what ``reading_default`` holds of that month: PostgreSQL refuses a
partition for rows the default one has. One process at a time does this (an advisory lock), and
none waits longer than ``LOCK_TIMEOUT`` for the tables' locks: the next pass tries again.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import OperationalError

from agrifleet.fleet.telemetry.rows import READING_COLUMNS

log = logging.getLogger(__name__)

#: Months after the current one that already have their partition.
AHEAD = 3
PARENT = "reading"
DEFAULT = "reading_default"
#: The advisory lock held while partitions are made or dropped.
UPKEEP_LOCK = 0x61677269_70617274  # "agripart"
#: The longest a change of partitions waits for a table's lock before giving up until later.
LOCK_TIMEOUT = "5s"
#: What PostgreSQL's partitioned ``reading`` holds instead of the model's
#: (fleet/telemetry/tables.py): a
#: unique constraint, the primary key too, must include the partition key there. The model keeps
#: ``id`` alone as the ORM's key (the sequence makes it unique) and (device, boot, seq) unique,
#: as SQLite has them; the writer keeps (device, boot, seq) unique on PostgreSQL
#: (fleet/telemetry/store.py).
PG_UNIQUE_ITEM = ("device_id", "boot_id", "seq", "ts")
PG_PRIMARY_KEY = ("id", "ts")
_MONTHLY = re.compile(r"^reading_p(\d{4})_(\d{2})$")
#: PostgreSQL's "lock not available" (lock_timeout reached).
_LOCK_NOT_AVAILABLE = "55P03"
#: Every column of a reading row, moved as it is out of the default partition.
_COLUMNS = ", ".join((*READING_COLUMNS, "id"))


def month_of(ts: datetime) -> datetime:
    """The first instant (UTC) of the month ``ts`` falls in."""
    ts = ts.astimezone(UTC)
    return datetime(ts.year, ts.month, 1, tzinfo=UTC)


def next_month(month: datetime) -> datetime:
    return datetime(month.year + month.month // 12, month.month % 12 + 1, 1, tzinfo=UTC)


def partition_name(month: datetime) -> str:
    return f"{PARENT}_p{month:%Y_%m}"


def is_partition(name: str) -> bool:
    """A table name this module makes (Alembic's schema comparison leaves them out)."""
    return name == DEFAULT or _MONTHLY.match(name) is not None


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    """Alembic's ``include_name``: autogenerate leaves the partitions out (no migration makes
    them)."""
    return not (type_ == "table" and name is not None and is_partition(name))


def partitioned(conn: Connection) -> bool:
    """Whether ``reading`` is a partitioned table here (PostgreSQL at migration 0010 or later)."""
    if conn.dialect.name != "postgresql":
        return False
    kind = conn.execute(text("SELECT relkind FROM pg_class WHERE oid = to_regclass(:t)"),
                        {"t": PARENT}).scalar()  # fmt: skip
    return kind == "p"


def monthly(conn: Connection) -> dict[datetime, str]:
    """Month → name of each monthly partition attached to ``reading``."""
    names = conn.execute(text(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = to_regclass(:t)"
    ), {"t": PARENT}).scalars()  # fmt: skip
    out: dict[datetime, str] = {}
    for name in names:
        found = _MONTHLY.match(name)
        if found:
            out[datetime(int(found[1]), int(found[2]), 1, tzinfo=UTC)] = name
    return out


def ensure(engine: Engine, now: datetime | None = None, ahead: int = AHEAD) -> list[str]:
    """Make the partitions of this month and the ``ahead`` next ones; the names it made."""
    if engine.dialect.name != "postgresql":
        return []
    with engine.connect() as conn:
        if not partitioned(conn):
            return []
        have = monthly(conn)
    wanted, month = [], month_of(now or datetime.now(UTC))
    for _ in range(ahead + 1):
        wanted.append(month)
        month = next_month(month)
    made = []
    for month in wanted:
        if month not in have and _create(engine, month):
            made.append(partition_name(month))
    return made


def _create(engine: Engine, month: datetime) -> bool:
    """Make and attach ``month``'s partition, moving its rows out of the default one."""
    name, start, end = partition_name(month), month.isoformat(), next_month(month).isoformat()
    try:
        with engine.begin() as conn:
            _lock(conn)
            if month in monthly(conn):
                return False  # another process made it meanwhile
            if conn.execute(text("SELECT to_regclass(:n)"), {"n": name}).scalar() is not None:
                log.warning("partitions: a table %s exists but is no partition of %s; "
                            "not touching it", name, PARENT)  # fmt: skip
                return False
            conn.exec_driver_sql(f"CREATE TABLE {name} (LIKE {PARENT} INCLUDING DEFAULTS)")
            # Taken now, not by ATTACH: nothing may reach the default partition in between.
            conn.exec_driver_sql(f"LOCK TABLE {DEFAULT} IN ACCESS EXCLUSIVE MODE")
            moved = conn.exec_driver_sql(
                f"WITH moved AS (DELETE FROM {DEFAULT} WHERE ts >= %s AND ts < %s "  # noqa: S608
                f"RETURNING {_COLUMNS}) INSERT INTO {name} ({_COLUMNS}) SELECT {_COLUMNS} "
                "FROM moved", (month, next_month(month)),
            ).rowcount  # fmt: skip
            conn.exec_driver_sql(
                f"ALTER TABLE {PARENT} ATTACH PARTITION {name} "
                f"FOR VALUES FROM ('{start}') TO ('{end}')"
            )
    except OperationalError as exc:
        if not _busy(exc):
            raise
        log.warning("partitions: %s not made now, its tables are busy (more than %s); "
                    "trying again at the next pass", name, LOCK_TIMEOUT)  # fmt: skip
        return False
    if moved:
        log.warning("partitions: made %s and moved into it %d readings that were in %s",
                    name, moved, DEFAULT)  # fmt: skip
    else:
        log.info("partitions: made %s", name)
    return True


def drop_before(engine: Engine, cutoff: datetime) -> list[str]:
    """Drop the monthly partitions whose month ends at or before ``cutoff``; their names."""
    if engine.dialect.name != "postgresql":
        return []
    with engine.connect() as conn:
        if not partitioned(conn):
            return []
        old = sorted((m, n) for m, n in monthly(conn).items() if next_month(m) <= cutoff)
    dropped = []
    for _month, name in old:
        try:
            with engine.begin() as conn:
                _lock(conn)
                conn.exec_driver_sql(f"DROP TABLE IF EXISTS {name}")
        except OperationalError as exc:
            if not _busy(exc):
                raise
            log.warning("retention: %s not dropped now, %s is busy (more than %s); trying "
                        "again at the next pass", name, PARENT, LOCK_TIMEOUT)  # fmt: skip
            continue
        dropped.append(name)
    return dropped


def prepare(engine: Engine) -> None:
    """:func:`ensure` at a start-up: the database may be away, which must not stop the start."""
    try:
        ensure(engine)
    except Exception as exc:  # the retention thread tries again; readings go to the default
        cause = getattr(exc, "orig", None) or exc
        log.warning("partitions: could not make this month's and the next ones' (%s: %s); "
                    "readings outside them are stored in %s meanwhile", type(cause).__name__,
                    str(cause).strip().split("\n")[0][:200], DEFAULT)  # fmt: skip


def _lock(conn: Connection) -> None:
    conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": UPKEEP_LOCK})
    conn.exec_driver_sql(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")


def _busy(exc: OperationalError) -> bool:
    return getattr(exc.orig, "sqlstate", None) == _LOCK_NOT_AVAILABLE
