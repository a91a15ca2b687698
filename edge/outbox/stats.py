"""What the outbox reports about itself: the file's figures plus what memory holds."""

from __future__ import annotations

from dataclasses import dataclass

from agrifleet.edge.outbox.database import FileStats
from agrifleet.edge.outbox.memory import Held


@dataclass(frozen=True)
class OutboxStats:
    depth: int  # items waiting, in the file and in memory
    stored_bytes: int  # budgeted bytes of the items in the file
    oldest_ts: float | None  # of items with a trusted timestamp
    oldest_unsynced_uptime_s: float | None  # this boot's items taken before the clock synced
    dropped: int  # items lost for good: evicted or refused for room, never acknowledged
    dead_letters: int
    memory_items: int = 0  # items held in memory because the file cannot be written
    file_bytes: int = 0  # the SQLite file's pages (page_count × page_size)


def outbox_stats(s: FileStats, held: list[Held], *, stored_bytes: int,
                 dropped: int) -> OutboxStats:
    """The file's figures (maybe from its last readable moment) merged with memory's items."""
    synced = [h.ts for h in held if h.synced]
    unsynced = [h.uptime_s for h in held if not h.synced]
    oldest = min([*synced, *([s.oldest_ts] if s.oldest_ts is not None else [])], default=None)
    oldest_up = s.oldest_unsynced_uptime_s
    if unsynced:
        oldest_up = min(unsynced + ([oldest_up] if oldest_up is not None else []))
    return OutboxStats(
        depth=s.depth + len(held), stored_bytes=stored_bytes, oldest_ts=oldest,
        oldest_unsynced_uptime_s=oldest_up, dropped=dropped, dead_letters=s.dead_letters,
        memory_items=len(held), file_bytes=s.file_bytes,
    )
