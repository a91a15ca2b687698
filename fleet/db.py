"""The database engine: SQLite in WAL mode with durable commits, or PostgreSQL via psycopg 3.

Engines hide SQL parameters from their errors and logs: a parameter can be a secret's hash, a
password hash or a token's digest.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url


def make_engine(database_url: str) -> Engine:
    """An engine for the URL; SQLite gets WAL, full sync and a busy timeout on each connection."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite":
        engine = create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10,
                               hide_parameters=True)
        event.listen(engine, "connect", _utc_session)
        return engine
    if url.database and url.database != ":memory:":
        create_private(Path(url.database))
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30},
                           hide_parameters=True)

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # FULL: an acknowledged item survives a power cut, not only a crash of the fleet.
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    return engine


def create_private(path: Path) -> None:
    """Create the SQLite file 0600 in a folder made 0700, whatever the umask (SQLite gives its
    -wal and -shm files the database file's mode); an existing file keeps its mode."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not path.exists():
        os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
        path.chmod(0o600)


def _utc_session(dbapi_connection: Any, _record: Any) -> None:
    """Times come back in UTC whatever the server's zone (9999-12-31 has no datetime at +14)."""
    dbapi_connection.autocommit = True
    dbapi_connection.execute("SET TIME ZONE 'UTC'")
    dbapi_connection.autocommit = False


def register_tables() -> None:
    """Import every ``tables`` module of the fleet's rooms (``fleet/*/tables.py`` and deeper):
    each room keeps its tables there, and importing them puts them on ``SQLModel.metadata``,
    which migrations compare the schema against. A new room's tables need no list kept in step.

    The files are found on disk, not by walking packages: a walk imports every package on the
    way (the web layer and FastAPI among them), a second or more on each migration's start."""
    import agrifleet.fleet as package

    for root in package.__path__:
        for path in sorted(Path(root).rglob("tables.py")):
            parts = path.relative_to(root).with_suffix("").parts
            importlib.import_module(".".join((package.__name__, *parts)))
