"""How producers on the node hand items to the outbox, and in what order they leave it."""

from __future__ import annotations

from collections.abc import Callable
from enum import IntEnum
from typing import Any


class Priority(IntEnum):
    """Lower drains first and is dropped last when the outbox is full."""

    ALERT = 0
    DETECTION = 1
    EVENT = 2
    READING = 3


#: ``emit(kind, body, priority)``: kind is a contract item kind ("reading", "detection",
#: "event"); body holds that item's own fields (without seq, ts, uptime_s, clock_synced,
#: which the outbox assigns when it commits the item). The return value (the seq) may be ignored.
Emit = Callable[[str, dict[str, Any], Priority], object]
