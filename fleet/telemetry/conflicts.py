"""Tell a resend from a conflict: an item whose (device, boot, seq) is stored already.

- The same content again is a resend (a lost ack): silent, acknowledged.
- Only ``ts`` and ``clock_synced`` differ, the stored copy unsynchronised and the new one
  synchronised: the node corrected the time of an item in flight (see edge/outbox/store.py
  ``correct_clock``); the stored item takes the corrected time.
- Only those differ the other way round, the stored copy synchronised: a late redelivery of the
  item as it was before that correction (a batch a crashed worker held): a resend, stale.
- Anything else is a conflict: the stored item stays, the new one is rejected in the ack (the
  node keeps it in its dead letters), counted, logged and recorded as a ``duplicate_conflict``
  event on the device.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from agrifleet.fleet.telemetry.rows import KINDS, READING_COLUMNS, AnyItem, Rows
from agrifleet.fleet.telemetry.store import Store

#: What is compared, per kind: every column the device sends.
_NOT_CONTENT = {"id", "device_id", "boot_id", "seq", "future", "stored_at"}
_CLOCK = {"ts", "clock_synced"}
#: At most this many seqs are named in one conflict event.
_NAMED = 10


@dataclass(frozen=True)
class Conflict:
    message: int  # index of the message in the transaction
    kind: str
    device_id: str
    boot_id: str
    seq: int
    differs: tuple[str, ...]

    @property
    def reason(self) -> str:
        return (
            f"duplicate_conflict: seq {self.seq} is stored with another "
            f"{', '.join(self.differs)}"
        )


@dataclass
class Resends:
    """What the already stored items among a transaction's rows turned out to be."""

    conflicts: list[Conflict]
    corrected: int
    #: Readings whose time was corrected: (device, sensor, quantity, old ts, new ts), the old
    #: one as the database held it (text on SQLite), for the rollups to count again.
    moved: list[tuple[str, str, str, Any, datetime]] = field(default_factory=list)


def content_columns(store: Store, kind: str) -> list[str]:
    """The columns compared for ``kind``, in table order (readings: READING_COLUMNS order)."""
    if kind == "reading":
        return [c for c in READING_COLUMNS if c not in _NOT_CONTENT]
    return [c.name for c in store.items[kind].columns if c.name not in _NOT_CONTENT]


def sort_resends(
    conn: Connection, store: Store, rows: Rows, kinds: list[str],
    new: dict[str, set[int]] | None = None,
) -> Resends:  # fmt: skip
    """Compare the rows of ``kinds`` (those with items stored before) with what is stored;
    ``new`` names, per kind, the indexes of rows this transaction stored (nothing to compare)."""
    out = Resends([], 0)
    for kind in kinds:
        columns = content_columns(store, kind)
        ts_at, synced_at = columns.index("ts"), columns.index("clock_synced")
        by_boot: dict[tuple[str, str], list[tuple[int, int, tuple[Any, ...], AnyItem]]] = {}
        skip = (new or {}).get(kind, set())
        for message, dev, boot, seq, content, item in _incoming(rows, kind, columns, skip):
            by_boot.setdefault((dev, boot), []).append((message, seq, content, item))
        fixes: list[dict[str, Any]] = []
        for (dev, boot), items in by_boot.items():
            seqs = [seq for _, seq, _, _ in items]
            stored = store.stored_content(conn, kind, dev, boot, seqs, columns)
            for message, seq, content, item in items:
                have = stored.get(seq)
                if have is None or have == content:
                    continue
                differs = tuple(c for c, a, b in zip(columns, have, content, strict=True) if a != b)
                if set(differs) <= _CLOCK and not have[synced_at] and content[synced_at]:
                    fixes.append({"b_dev": dev, "b_boot": boot, "b_seq": seq, "b_ts": item.ts,
                                  "b_future": item.ts > rows.future_after})  # fmt: skip
                    stored[seq] = (*have[:ts_at], content[ts_at], *have[ts_at + 1 :])
                    if kind == "reading":
                        sensor, quantity = columns.index("sensor"), columns.index("quantity")
                        out.moved.append((dev, have[sensor], have[quantity], have[ts_at],
                                          item.ts))  # fmt: skip
                    continue
                if set(differs) <= _CLOCK and have[synced_at] and not content[synced_at]:
                    continue  # the copy from before the correction: the stored one stays
                out.conflicts.append(Conflict(message, kind, dev, boot, seq, differs))
        store.correct_times(conn, kind, fixes)
        out.corrected += len(fixes)
    return out


def _incoming(
    rows: Rows, kind: str, columns: list[str], skip: set[int]
) -> list[tuple[int, str, str, int, tuple[Any, ...], AnyItem]]:
    """(message, device, boot, seq, content, item) per row of ``kind`` not in ``skip``."""
    sources = rows.sources[kind]
    pairs = [
        (row, source)
        for i, (row, source) in enumerate(zip(rows.items[kind], sources, strict=True))
        if i not in skip
    ]
    if kind == "reading":  # tuples, with the time as the database holds it
        at = [READING_COLUMNS.index(c) for c in columns]
        return [
            (message, row[0], row[1], row[2], tuple(row[i] for i in at), item)
            for row, (message, item) in pairs
        ]
    return [
        (message, row["device_id"], row["boot_id"], row["seq"], tuple(row[c] for c in columns),
         item)
        for row, (message, item) in pairs
    ]  # fmt: skip


def conflict_events(conflicts: list[Conflict], now: datetime) -> list[dict[str, Any]]:
    """One ``duplicate_conflict`` warning per device and boot, naming the seqs and fields."""
    grouped: dict[tuple[str, str], list[Conflict]] = {}
    for c in conflicts:
        grouped.setdefault((c.device_id, c.boot_id), []).append(c)
    events = []
    for (dev, boot), found in grouped.items():
        seqs = sorted({c.seq for c in found})
        named = ", ".join(map(str, seqs[:_NAMED])) + (", …" if len(seqs) > _NAMED else "")
        fields = sorted({f for c in found for f in c.differs})
        kinds = sorted({c.kind for c in found}, key=KINDS.index)
        message = (
            f"{len(seqs)} {'/'.join(kinds)} item(s) of boot {boot} reuse stored seqs with other "
            f"content ({', '.join(fields)} differ): seq {named}; the stored items are kept"
        )
        events.append(
            {"device_id": dev, "ts": now, "uptime_s": 0.0, "clock_synced": True, "future": False,
             "severity": "warning", "code": "duplicate_conflict", "message": message[:1024],
             "sensor": None, "stored_at": now}
        )  # fmt: skip
    return events
