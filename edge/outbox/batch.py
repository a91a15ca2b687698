"""Cutting one Batch payload (contract JSON) out of stored and memory-held items."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from agrifleet.contract import CONTRACT_VERSION
from agrifleet.edge.clock import iso
from agrifleet.edge.outbox.memory import Held


@dataclass(frozen=True)
class Candidate:
    """An item that may go into the next batch: from the file (row_id > 0) or memory (< 0)."""

    priority: int
    order: int  # insertion order: the file's row id, or after every row for memory items
    row_id: int
    boot_id: str
    seq: int
    kind: str
    ts: float
    uptime_s: float
    synced: bool
    body: str


@dataclass(frozen=True)
class OutgoingBatch:
    """One Batch payload taken from the outbox and not yet acknowledged."""

    boot_id: str
    seqs: tuple[int, ...]
    row_ids: tuple[int, ...]
    payload: bytes


def in_drain_order(rows: list[Any], boot_id: str, memory: list[Held], skip: set[tuple[str, int]],
                   *, newest_first: bool) -> list[Candidate]:
    """Rows of the file (id, boot_id, seq, kind, ts, uptime_s, clock_synced, body, priority)
    and memory's items of ``boot_id``, minus ``skip``, by priority then age."""
    found = [Candidate(r[8], r[0], r[0], r[1], r[2], r[3], r[4], r[5], bool(r[6]), r[7])
             for r in rows if (r[1], r[2]) not in skip]
    top = 1 << 62  # memory items are newer than every row in the file
    found += [Candidate(int(h.priority), top + h.seq, -1 - h.seq, boot_id, h.seq, h.kind, h.ts,
                        h.uptime_s, h.synced, h.body)
              for h in memory if (boot_id, h.seq) not in skip]
    sign = -1 if newest_first else 1
    found.sort(key=lambda c: (c.priority, sign * c.order))
    return found


def cut_batch(device_id: str, candidates: list[Candidate], max_items: int,
              max_bytes: int) -> OutgoingBatch | None:
    """The first boot's items among ``candidates`` (in drain order), in seq order, within limits."""
    head = f'{{"v":{CONTRACT_VERSION},"device_id":{json.dumps(device_id)},'
    picked: list[tuple[int, int, str]] = []
    boot: str | None = None
    used = 0
    for c in candidates:
        if boot is not None and c.boot_id != boot:
            continue
        if boot is None:
            boot = c.boot_id
            used = len(head) + len(json.dumps(boot)) + 32
        item = item_json(c.kind, c.seq, c.ts, c.uptime_s, c.synced, c.body)
        if picked and used + len(item) + 1 > max_bytes:
            break
        picked.append((c.seq, c.row_id, item))
        used += len(item) + 1
        if len(picked) >= max_items:
            break
    if boot is None:
        return None
    picked.sort()
    payload = f'{head}"boot_id":{json.dumps(boot)},"items":[{",".join(p[2] for p in picked)}]}}'
    return OutgoingBatch(boot, tuple(p[0] for p in picked), tuple(p[1] for p in picked),
                         payload.encode())


def item_json(kind: str, seq: int, ts: float, up: float, synced: bool, body: str) -> str:
    head = json.dumps(
        {"kind": kind, "seq": seq, "ts": iso(ts), "uptime_s": up, "clock_synced": synced},
        separators=(",", ":"),
    )
    return head if body == "{}" else f"{head[:-1]},{body[1:]}"
