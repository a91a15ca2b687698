"""Turn checked messages into the rows one write transaction stores; no database here.

An item dated more than the future tolerance ahead of the fleet's clock is stored with
``future=True``: it never becomes the latest reading (nor a device's position) and is left out
of the latency metric, as are items from a clock that is not synchronised.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from agrifleet.contract import Detection, DetectionPart, Event, Reading, Update
from agrifleet.fleet.telemetry.parse import CheckedBatch, CheckedStatus

#: The columns of a reading row, in the order the writer's driver-level INSERT expects them.
READING_COLUMNS = (
    "device_id", "boot_id", "seq", "ts", "uptime_s", "clock_synced", "future",
    "sensor", "quantity", "value", "unit", "stored_at",
)  # fmt: skip
#: How SQLAlchemy stores a DateTime in SQLite; readings must be written as the very same text.
SQLITE_TIME = "%Y-%m-%d %H:%M:%S.%f"
#: The item kinds, each with its own table.
KINDS = ("reading", "detection", "event", "update")

BootKey = tuple[str, str]  # device id, boot id
SeriesKey = tuple[str, str, str]  # device id, sensor, quantity
AnyItem = Reading | Detection | Event | Update


@dataclass
class Rows:
    """Everything one transaction writes, gathered before it begins."""

    now: datetime
    future_after: datetime  # items dated later are flagged future
    #: kind → rows (tuples in READING_COLUMNS order for readings, dicts for the others).
    items: dict[str, list[Any]] = field(default_factory=lambda: {k: [] for k in KINDS})
    #: kind → (index of the message in the transaction, item), parallel to ``items``.
    sources: dict[str, list[tuple[int, AnyItem]]] = field(
        default_factory=lambda: {k: [] for k in KINDS}
    )
    latest: dict[SeriesKey, tuple[datetime, Reading, str]] = field(default_factory=dict)
    boot_seqs: dict[BootKey, list[int]] = field(default_factory=dict)
    statuses: dict[str, CheckedStatus] = field(default_factory=dict)
    devices: set[str] = field(default_factory=set)
    latencies: list[float] = field(default_factory=list)  # seconds, device ts → now (may be < 0)
    ingested: Counter[str] = field(default_factory=Counter)
    rejected: Counter[str] = field(default_factory=Counter)
    #: Per distinct reading time: as the database takes it, whether future, its latency.
    stamps: dict[datetime, tuple[Any, bool, float]] = field(default_factory=dict)


def collect_rows(
    checked: list[CheckedBatch | CheckedStatus],
    now: datetime,
    future_tolerance_s: float,
    sqlite_time: bool,
) -> Rows:
    """The rows of ``checked``; ``sqlite_time`` writes reading times as SQLite's text."""
    future_after = now + timedelta(seconds=future_tolerance_s)
    rows = Rows(now, future_after)
    for index, c in enumerate(checked):
        rows.devices.add(c.device_id)
        if isinstance(c, CheckedStatus):
            rows.statuses[c.device_id] = c
            rows.ingested["status"] += 1
            continue
        rows.ingested["messages"] += 1
        _add_readings(rows, index, c, future_after, sqlite_time)
        for d, image in c.detections:
            _add(rows, "detection", index, c, d, future_after, _detection_columns(d, image))
        for e in c.events:
            _add(rows, "event", index, c, e, future_after, _event_columns(e))
        for u in c.updates:
            _add(rows, "update", index, c, u, future_after, _update_columns(u))
        rows.rejected.update(reason.split(":", 1)[0] for reason in c.rejected.values())
        received = c.received_seqs()
        if received:
            rows.boot_seqs.setdefault((c.device_id, c.boot_id), []).extend(received)
    return rows


def _add_readings(
    rows: Rows, index: int, c: CheckedBatch, future_after: datetime, sqlite_time: bool
) -> None:
    """The hot path: readings become tuples; each distinct time is formatted, dated against
    the future and turned into a latency once (a poll's readings share one)."""
    dev, boot = c.device_id, c.boot_id
    now_s = rows.now.timestamp()
    stored_stamp = rows.now.strftime(SQLITE_TIME) if sqlite_time else rows.now
    stamps = rows.stamps
    out, sources, latest = rows.items["reading"], rows.sources["reading"], rows.latest
    latencies = rows.latencies
    for r in c.readings:
        ts = r.ts  # UTC: the contract normalises item times
        known = stamps.get(ts)
        if known is None:
            stamp = ts.strftime(SQLITE_TIME) if sqlite_time else ts
            known = stamps[ts] = (stamp, ts > future_after, now_s - ts.timestamp())
        stamp, future, latency = known
        out.append(
            (dev, boot, r.seq, stamp, r.uptime_s, r.clock_synced, future,
             r.sensor, r.quantity, r.value, r.unit, stored_stamp)
        )  # fmt: skip
        sources.append((index, r))
        if future:
            continue
        key = (dev, r.sensor, r.quantity)
        have = latest.get(key)
        if have is None or ts >= have[0]:
            latest[key] = (ts, r, boot)
        if r.clock_synced:  # a clock ahead gives a negative figure: the histogram counts 0
            latencies.append(latency)


def _add(
    rows: Rows,
    kind: str,
    index: int,
    c: CheckedBatch,
    item: AnyItem,
    future_after: datetime,
    columns: dict[str, Any],
) -> None:
    future = item.ts > future_after
    rows.items[kind].append(
        {
            "device_id": c.device_id,
            "boot_id": c.boot_id,
            "seq": item.seq,
            "ts": item.ts,
            "uptime_s": item.uptime_s,
            "clock_synced": item.clock_synced,
            "future": future,
            **columns,
            "stored_at": rows.now,
        }
    )
    rows.sources[kind].append((index, item))
    if kind == "detection" and item.clock_synced and not future:
        rows.latencies.append(rows.now.timestamp() - item.ts.timestamp())


def _detection_columns(d: Detection, image: bytes | None) -> dict[str, Any]:
    return {
        "camera": d.camera,
        "label": d.label,
        "confidence": d.confidence,
        "uncertain": d.uncertain,
        "top3": [t.model_dump(mode="json") for t in d.top3],
        "model_name": d.model.name,
        "model_version": d.model.version,
        "model_sha256": d.model.sha256,
        "inference_ms": d.inference_ms,
        "image_sha256": d.image_sha256,
        "thumbnail": image,
        **_part_columns("crop", d.crop),
        **_part_columns("disease", d.disease),
    }


def _part_columns(part: str, answer: DetectionPart | None) -> dict[str, Any]:
    """The columns of a detection's crop or disease; nulls when the node did not send it."""
    return {
        part: answer.name if answer else None,
        f"{part}_confidence": answer.confidence if answer else None,
        f"{part}_uncertain": answer.uncertain if answer else None,
    }


def _event_columns(e: Event) -> dict[str, Any]:
    return {"severity": e.severity, "code": e.code, "message": e.message, "sensor": e.sensor}


def _update_columns(u: Update) -> dict[str, Any]:
    return {
        "rollout_id": u.rollout_id,
        "model": u.model,
        "version": u.version,
        "state": u.state,
        "reason": u.reason,
        "bytes_done": u.bytes_done,
        "bytes_total": u.bytes_total,
        "gate": u.gate.model_dump(mode="json") if u.gate else None,
        "active": u.active.model_dump(mode="json") if u.active else None,
    }
