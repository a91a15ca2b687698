"""Items the outbox could not write to disk, held in memory (bounded) until stored or sent."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from edge.items import Priority


@dataclass
class Held:
    """One item with its seq and stamp, as it would be stored."""

    seq: int
    kind: str
    priority: Priority
    ts: float
    uptime_s: float
    synced: bool
    body: str
    size: int


class MemoryBuffer:
    """At most ``max_bytes`` of items in seq order; over it, the least important oldest go first.

    An item never makes room by evicting a more important one (an alert is never evicted for a
    reading); when nothing may go, the new item itself is the one dropped.
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._items: list[Held] = []
        self.bytes = 0

    def add(self, item: Held) -> list[Held]:
        """Keep ``item``; return what was dropped for it (possibly ``item`` itself)."""
        need = self.bytes + item.size - self.max_bytes
        victims: list[Held] = []
        if need > 0:
            freed = 0
            for level in range(max(Priority), int(item.priority) - 1, -1):
                for held in self._items:
                    if freed >= need:
                        break
                    if held.priority == level:
                        victims.append(held)
                        freed += held.size
            if freed < need:
                return [item]
            gone = {id(v) for v in victims}
            self._items = [h for h in self._items if id(h) not in gone]
            self.bytes -= freed
        self._items.append(item)
        self.bytes += item.size
        return victims

    def remove(self, seqs: set[int]) -> list[Held]:
        """Take out the items with these seqs; return them."""
        taken = [h for h in self._items if h.seq in seqs]
        if taken:
            self._items = [h for h in self._items if h.seq not in seqs]
            self.bytes -= sum(h.size for h in taken)
        return taken

    def clear(self) -> list[Held]:
        items, self._items, self.bytes = self._items, [], 0
        return items

    def __iter__(self) -> Iterator[Held]:
        return iter(list(self._items))

    def __len__(self) -> int:
        return len(self._items)
