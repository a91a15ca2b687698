"""The outbox's SQLite file: its schema, how it is opened and checked, and what its errors mean."""

from __future__ import annotations

import contextlib
import os
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, NamedTuple

#: ``agrifleet edge run`` exits with this when the outbox file is damaged or cannot be opened,
#: so a service manager can stop restarting it (systemd: ``RestartPreventExitStatus=3``).
EXIT_OUTBOX_BROKEN = 3
#: ... and with this (EX_TEMPFAIL) when its file system takes no writes at start (full or
#: read-only): worth restarting later, the file itself may be fine.
EXIT_OUTBOX_UNWRITABLE = 75

SCHEMA = """
CREATE TABLE IF NOT EXISTS items (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    boot_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    kind TEXT NOT NULL,
    priority INTEGER NOT NULL,
    ts REAL NOT NULL,
    uptime_s REAL NOT NULL,
    clock_synced INTEGER NOT NULL,
    body TEXT NOT NULL,
    size INTEGER NOT NULL,
    UNIQUE (boot_id, seq)
);
CREATE INDEX IF NOT EXISTS items_drain ON items (priority, id);
CREATE TABLE IF NOT EXISTS sequences (boot_id TEXT PRIMARY KEY, next_seq INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS dead_letters (
    boot_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    kind TEXT NOT NULL,
    ts REAL NOT NULL,
    body TEXT NOT NULL,
    reason TEXT NOT NULL,
    rejected_at REAL NOT NULL,
    PRIMARY KEY (boot_id, seq)
);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""

Trouble = Literal["damaged", "unopenable", "unwritable"]
_DAMAGED = ("not a database", "malformed", "corrupt", "file is encrypted")


class OutboxBroken(Exception):
    """The outbox file cannot be used as it is; ``str()`` is one line naming it and what to do."""

    def __init__(self, path: Path, reason: str, trouble: Trouble) -> None:
        super().__init__(path, reason, trouble)
        self.path = path
        self.reason = reason
        self.trouble = trouble

    @property
    def exit_code(self) -> int:
        return EXIT_OUTBOX_UNWRITABLE if self.trouble == "unwritable" else EXIT_OUTBOX_BROKEN

    @property
    def movable(self) -> bool:
        """Whether moving the file aside and starting a fresh one can help."""
        return self.trouble in ("damaged", "unopenable") and not self.path.is_dir()

    def __str__(self) -> str:
        if self.trouble == "unwritable":
            return (f"outbox {self.path} cannot be written ({self.reason}); free space on its "
                    "file system or replace the card, then start again")
        what = "is damaged" if self.trouble == "damaged" else "cannot be opened"
        if not self.movable:
            return f"outbox {self.path} {what} ({self.reason}); it must be a SQLite file"
        return (f"outbox {self.path} {what} ({self.reason}); start with --reset-broken-outbox "
                '(or [outbox] on_corrupt = "move-aside") to move it aside and start a fresh one')


def trouble_of(exc: sqlite3.Error) -> Trouble:
    """What kind of failure an sqlite error means for the file."""
    text = str(exc).lower()
    if any(word in text for word in _DAMAGED):
        return "damaged"
    if "unable to open" in text:
        return "unopenable"
    return "unwritable"


def connect(path: Path, *, check: bool = True) -> sqlite3.Connection:
    """Open (or create) the outbox file, check it, ensure the schema; OutboxBroken if unusable.

    ``check`` runs ``PRAGMA quick_check`` (reads the whole file): at start, not on reopening.
    """
    db: sqlite3.Connection | None = None
    try:
        _create_private(path)
        db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        problems = [r[0] for r in db.execute("PRAGMA quick_check(3)")] if check else ["ok"]
        if problems != ["ok"]:
            raise sqlite3.DatabaseError("database disk image is malformed: "
                                        + "; ".join(problems)[:200])
        db.executescript(SCHEMA)
        db.execute("SELECT COUNT(*), COALESCE(SUM(size), 0) FROM items").fetchone()
        return db
    except sqlite3.Error as exc:
        if db is not None:
            db.close()
        trouble = trouble_of(exc)
        if trouble != "damaged" and read_only(path.parent):
            raise OutboxBroken(path, "its file system is read-only", "unwritable") from None
        raise OutboxBroken(path, _reason(path, exc, trouble), trouble) from None


def _create_private(path: Path) -> None:
    """A new outbox file is 0600 whatever the umask (its -wal and -shm files follow it)."""
    if path.parent.is_dir() and not path.exists():
        try:
            os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
            path.chmod(0o600)
        except OSError:
            return  # sqlite3 says what is wrong, in its words


def read_only(folder: Path) -> bool:
    try:
        return bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def _reason(path: Path, exc: sqlite3.Error, trouble: Trouble) -> str:
    text = str(exc)
    if trouble != "unopenable":
        return text
    if path.is_dir():
        return "it is a folder"
    if path.exists() and not os.access(path, os.R_OK | os.W_OK):
        return f"permission denied for uid {os.getuid()}"
    if not os.access(path.parent, os.W_OK):
        return f"{path.parent} is not writable for uid {os.getuid()}"
    return text


def rollback(db: sqlite3.Connection) -> None:
    """Roll back if a transaction is still open (SQLite ends some on its own, e.g. disk full)."""
    if db.in_transaction:
        with contextlib.suppress(sqlite3.Error):
            db.execute("ROLLBACK")


class FileState(NamedTuple):
    next_seq: int  # of the boot: above its seq counter and every stored seq
    stored_bytes: int
    dropped: int
    unsynced: bool  # the boot has items taken before the clock synced


def read_state(db: sqlite3.Connection, boot_id: str) -> FileState:
    (counter,) = db.execute("SELECT MAX(next_seq) FROM sequences WHERE boot_id = ?",
                            (boot_id,)).fetchone()
    (top,) = db.execute("SELECT MAX(seq) FROM items WHERE boot_id = ?", (boot_id,)).fetchone()
    (stored,) = db.execute("SELECT COALESCE(SUM(size), 0) FROM items").fetchone()
    (dropped,) = db.execute(
        "SELECT COALESCE(MAX(value), 0) FROM counters WHERE name = 'dropped'").fetchone()
    unsynced = db.execute("SELECT 1 FROM items WHERE boot_id = ? AND clock_synced = 0 LIMIT 1",
                          (boot_id,)).fetchone()
    return FileState(max(counter or 0, -1 if top is None else top + 1), int(stored),
                     int(dropped), unsynced is not None)


class FileStats(NamedTuple):
    depth: int
    oldest_ts: float | None  # of items with a trusted timestamp
    oldest_unsynced_uptime_s: float | None  # the boot's items taken before the clock synced
    dead_letters: int
    file_bytes: int  # page_count × page_size


def file_stats(db: sqlite3.Connection, boot_id: str) -> FileStats:
    depth, oldest = db.execute(
        "SELECT COUNT(*), MIN(CASE WHEN clock_synced THEN ts END) FROM items").fetchone()
    (oldest_uptime,) = db.execute(
        "SELECT MIN(uptime_s) FROM items WHERE boot_id = ? AND clock_synced = 0", (boot_id,)
    ).fetchone()
    (dead,) = db.execute("SELECT COUNT(*) FROM dead_letters").fetchone()
    (pages,) = db.execute("PRAGMA page_count").fetchone()
    (page_size,) = db.execute("PRAGMA page_size").fetchone()
    return FileStats(int(depth), oldest, oldest_uptime, int(dead), int(pages) * int(page_size))


def dead_letter(db: sqlite3.Connection, boot_id: str, seq: int, reason: str) -> None:
    """Copy a rejected item to ``dead_letters`` (if it is stored)."""
    db.execute(
        "INSERT OR REPLACE INTO dead_letters (boot_id, seq, kind, ts, body, reason, rejected_at)"
        " SELECT boot_id, seq, kind, ts, body, ?, ? FROM items WHERE boot_id = ? AND seq = ?",
        (reason, datetime.now(UTC).timestamp(), boot_id, seq),
    )


def delete_seqs(db: sqlite3.Connection, boot_id: str, first: int,
                last: int) -> list[tuple[int, int]]:
    """Delete a boot's items with seqs in [first, last]; return their (seq, size)."""
    rows = db.execute(
        "DELETE FROM items WHERE boot_id = ? AND seq BETWEEN ? AND ? RETURNING seq, size",
        (boot_id, first, last),
    ).fetchall()
    return [(int(seq), int(size)) for seq, size in rows]


_SELECT = "SELECT id, boot_id, seq, kind, ts, uptime_s, clock_synced, body, priority FROM items "
_OLDEST_FIRST = _SELECT + "WHERE priority <= ? ORDER BY priority ASC, id ASC LIMIT ?"
_NEWEST_FIRST = _SELECT + "WHERE priority <= ? ORDER BY priority ASC, id DESC LIMIT ?"


def waiting_rows(db: sqlite3.Connection, max_priority: int, limit: int, *,
                 newest_first: bool) -> list[Any]:
    """Up to ``limit`` items of ``max_priority`` or more importance, in drain order."""
    query = _NEWEST_FIRST if newest_first else _OLDEST_FIRST
    return db.execute(query, (max_priority, limit)).fetchall()


def correct_timestamps(db: sqlite3.Connection, boot_id: str, offset: float) -> int:
    """Set the boot's unsynced timestamps to uptime + ``offset``; how many were rewritten."""
    cur = db.execute("UPDATE items SET ts = uptime_s + ?, clock_synced = 1 "
                     "WHERE boot_id = ? AND clock_synced = 0", (offset, boot_id))
    return cur.rowcount
