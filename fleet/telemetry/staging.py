"""PostgreSQL staging tables: many rows into the database with one binary ``COPY``.

A write transaction moves thousands of rows (readings, latest values, rollup buckets, boots). Sent
one by one (``executemany``) each row costs a parameter adaptation in Python and a statement on
the server; ``COPY`` into a session-private temporary table costs a few microseconds per row, and
one ``INSERT … SELECT … ON CONFLICT`` from it does the rest on the server. The tables are emptied
at each commit; a rolled-back transaction takes their rows, or their creation, with it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection

#: (column name, PostgreSQL type) of a staging table.
Columns = Sequence[tuple[str, str]]


def copy_rows(conn: Connection, table: str, columns: Columns,
              rows: Iterable[Sequence[Any]]) -> None:
    """Binary ``COPY`` of ``rows`` (values in ``columns`` order) into ``table``.

    Only our own table and column names are formatted into the SQL; the values go through COPY.
    """
    driver: Any = conn.connection.dbapi_connection
    names = ", ".join(column for column, _ in columns)
    with driver.cursor() as cursor, cursor.copy(
        f"COPY {table} ({names}) FROM STDIN (FORMAT BINARY)"
    ) as copy:
        copy.set_types([kind for _, kind in columns])  # binary: a tenth of text's work
        for row in rows:
            copy.write_row(row)


def stage(conn: Connection, name: str, columns: Columns, rows: Iterable[Sequence[Any]]) -> None:
    """Put ``rows`` (values in ``columns`` order) into the temporary table ``name``."""
    conn.exec_driver_sql(
        f"CREATE TEMP TABLE IF NOT EXISTS {name} "
        f"({', '.join(f'{c} {t}' for c, t in columns)}) ON COMMIT DELETE ROWS"
    )
    copy_rows(conn, name, columns, rows)
