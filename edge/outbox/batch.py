"""Cutting one Batch payload (contract JSON) out of stored and memory-held items."""

from __future__ import annotations

import json
from dataclasses import dataclass

from agrifleet.contract import CONTRACT_VERSION
from edge.clock import iso


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
