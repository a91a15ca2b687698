"""A damaged outbox file is moved aside (kept for inspection) and its readable rows copied over."""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from agrifleet.edge.outbox.database import OutboxBroken, connect

log = logging.getLogger(__name__)

_ITEM_COLUMNS = "boot_id, seq, kind, priority, ts, uptime_s, clock_synced, body, size"
_KINDS = {"reading", "detection", "event"}
#: Row ids probed one by one past a damaged page (bounds the time spent on a wrecked file).
_PROBE_LIMIT = 200_000


def open_or_reset(path: Path, *, move_aside: bool) -> tuple[sqlite3.Connection, str | None]:
    """Open the outbox file; if it is damaged and ``move_aside``, replace it by a fresh one.

    Returns the connection and, after a reset, the message for the ``outbox_reset`` alert.
    """
    try:
        return connect(path), None
    except OutboxBroken as exc:
        if not move_aside or not exc.movable:
            raise
        try:
            moved = move_aside_file(path)
        except OSError as err:
            raise OutboxBroken(path, f"{exc.reason}, and it cannot be moved aside: "
                               f"{err.strerror}", "unwritable") from None
        db = connect(path)
        salvaged, _ = salvage_into(moved, db)
        log.warning("outbox %s: %s; moved it to %s and started a fresh one with the %d "
                    "item(s) that could be read", path, exc.reason, moved, salvaged)
        return db, (f"outbox {path}: {exc.reason}; moved to {moved.name} and started afresh, "
                    f"{salvaged} item(s) salvaged")


def move_aside_file(path: Path) -> Path:
    """Rename the file (and its -wal/-shm) to ``<name>.broken-<UTC time>``; return the new path."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    target = path.with_name(f"{path.name}.broken-{stamp}")
    n = 1
    while target.exists():
        target = path.with_name(f"{path.name}.broken-{stamp}.{n}")
        n += 1
    path.rename(target)
    for suffix in ("-wal", "-shm"):
        side = path.with_name(path.name + suffix)
        if side.exists():
            side.rename(target.with_name(target.name + suffix))
    return target


def salvage_into(old: Path, db: sqlite3.Connection) -> tuple[int, dict[str, int]]:
    """Copy the readable items and seq counters of ``old`` into the fresh ``db``."""
    try:
        src = sqlite3.connect(f"file:{old}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        log.warning("nothing salvaged from %s: %s", old, exc)
        return 0, {}
    with contextlib.closing(src):
        with contextlib.suppress(sqlite3.Error):  # read a file shorter than its header says
            src.execute("PRAGMA writable_schema=ON")
        next_seqs = _sequences(src)
        rows = _readable_items(src)
    kept = 0
    db.execute("BEGIN IMMEDIATE")
    for row in rows:
        cur = db.execute(f"INSERT OR IGNORE INTO items ({_ITEM_COLUMNS}) "  # noqa: S608
                         "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", row)
        kept += cur.rowcount
        boot, seq = str(row[0]), int(str(row[1]))
        next_seqs[boot] = max(next_seqs.get(boot, 0), seq + 1)
    for boot, next_seq in next_seqs.items():
        db.execute("INSERT OR REPLACE INTO sequences (boot_id, next_seq) VALUES (?, ?)",
                   (boot, next_seq))
    db.execute("COMMIT")
    return kept, next_seqs


def _sequences(src: sqlite3.Connection) -> dict[str, int]:
    try:
        return {str(b): int(n) for b, n in src.execute("SELECT boot_id, next_seq FROM sequences")}
    except (sqlite3.Error, ValueError, TypeError):
        return {}


def _readable_items(src: sqlite3.Connection) -> list[tuple[object, ...]]:
    """Rows in id order; past a page that cannot be read, probe ids one by one."""
    rows: list[tuple[object, ...]] = []
    last = 0
    query = f"SELECT id, {_ITEM_COLUMNS} FROM items WHERE id > ? ORDER BY id LIMIT 256"  # noqa: S608
    try:
        while chunk := src.execute(query, (last,)).fetchall():
            for row in chunk:
                last = int(row[0])
                if _plausible(row[1:]):
                    rows.append(tuple(row[1:]))
        return rows
    except sqlite3.Error:
        pass
    try:
        top = int(src.execute("SELECT seq FROM sqlite_sequence WHERE name = 'items'").fetchone()[0])
    except (sqlite3.Error, TypeError, ValueError):
        return rows
    one = f"SELECT {_ITEM_COLUMNS} FROM items WHERE id = ?"  # noqa: S608
    for row_id in range(last + 1, min(top, last + _PROBE_LIMIT) + 1):
        try:
            row = src.execute(one, (row_id,)).fetchone()
        except sqlite3.Error:
            continue
        if row is not None and _plausible(row):
            rows.append(tuple(row))
    return rows


def _plausible(row: tuple[object, ...]) -> bool:
    boot, seq, kind, priority, _, _, _, body, size = row
    if not (isinstance(boot, str) and isinstance(seq, int) and kind in _KINDS):
        return False
    if not (isinstance(priority, int) and isinstance(size, int) and isinstance(body, str)):
        return False
    try:
        return isinstance(json.loads(body), dict)
    except ValueError:
        return False
