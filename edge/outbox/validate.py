"""What the outbox accepts from producers: contract items without their stamp fields."""

from __future__ import annotations

import math
from typing import Any

from pydantic import BaseModel, ValidationError

from agrifleet.contract import Detection, Event, Reading, Update
from agrifleet.edge.clock import Stamp, iso
from agrifleet.edge.items import Priority

MODELS: dict[str, type[BaseModel]] = {
    "reading": Reading, "detection": Detection, "event": Event, "update": Update,
}
#: Fields the outbox sets when it numbers and stamps an item.
STAMP_FIELDS = {"kind", "seq", "ts", "uptime_s", "clock_synced"}


class ItemRefused(ValueError):
    """A producer handed the outbox an item the contract does not allow; nothing was stored."""


def prepare(kind: str, body: dict[str, Any], priority: Priority,
            stamp: Stamp) -> tuple[str, str, Priority]:
    """Validate one item; return its kind, body JSON (without stamp fields) and priority."""
    model = MODELS.get(kind)
    if model is None:
        raise ItemRefused(f"unknown item kind {kind!r} (expected one of {sorted(MODELS)})")
    clash = STAMP_FIELDS & body.keys()
    if clash:
        raise ItemRefused(f"{kind}: the outbox sets {sorted(clash)}, the producer must not")
    stamped = {"seq": 0, "ts": iso(stamp.ts), "uptime_s": stamp.uptime_s, **body}
    try:
        item = model.model_validate(stamped)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()
        )
        raise ItemRefused(f"{kind} refused: {problems}") from None
    if isinstance(item, Reading) and not math.isfinite(item.value):
        raise ItemRefused(f"reading {item.sensor}/{item.quantity}: value is {item.value}")
    if isinstance(item, Event) and item.severity == "alert":
        priority = Priority.ALERT
    return kind, item.model_dump_json(exclude=STAMP_FIELDS), Priority(priority)
