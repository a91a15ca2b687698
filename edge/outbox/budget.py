"""Which stored items make room for a new one when the outbox is over its byte budget."""

from __future__ import annotations

import sqlite3
from typing import NamedTuple

from edge.items import Priority

_PLURAL = {Priority.ALERT: "alerts", Priority.DETECTION: "detections",
           Priority.EVENT: "events", Priority.READING: "readings"}


class Victim(NamedTuple):
    row_id: int
    boot_id: str
    seq: int
    priority: Priority
    size: int


def find_room(db: sqlite3.Connection, need: int, priority: Priority) -> list[Victim] | None:
    """Items of ``priority`` or less importance, least important and oldest first, freeing
    ``need`` bytes; None if even all of them would not free enough."""
    victims: list[Victim] = []
    freed = 0
    for level in range(max(Priority), int(priority) - 1, -1):  # readings first
        last_id = -1
        while freed < need:
            rows = db.execute(
                "SELECT id, boot_id, seq, size FROM items WHERE priority = ? AND id > ? "
                "ORDER BY id LIMIT 256",
                (level, last_id),
            ).fetchall()
            for row_id, boot_id, seq, size in rows:
                victims.append(Victim(row_id, boot_id, seq, Priority(level), size))
                freed += size
                last_id = row_id
                if freed >= need:
                    break
            if len(rows) < 256:
                break
        if freed >= need:
            return victims
    return None


def full_message(max_bytes: int, evicted: set[Priority], refused: set[Priority]) -> str:
    """The ``outbox_full`` warning, naming what is actually dropped."""
    parts = []
    if evicted:
        parts.append("dropping the oldest " + _kinds(evicted))
    if refused:
        parts.append("dropping new " + _kinds(refused)
                     + " (nothing less important left to make room)")
    return f"outbox over its {max_bytes} byte budget: {'; '.join(parts)}"


def _kinds(levels: set[Priority]) -> str:
    names = [_PLURAL[p] for p in sorted(levels, reverse=True)]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
