"""Turn one MQTT message into a checked batch or status, or a refusal with a reason.

The fast path validates a whole :class:`~agrifleet.contract.Batch` straight from JSON bytes. Only
when that fails does the slow path look at items one by one, so a single bad item is rejected
(and acknowledged as such) while its good neighbours are stored.

Besides the contract, an item is refused here for what only the fleet can judge: a number or
text its database column cannot hold, and a synchronised clock that reads a date before
:data:`SYNCED_TS_MIN`.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetPydanticSchema,
    TypeAdapter,
    ValidationError,
)
from pydantic_core import core_schema

from agrifleet.contract import (
    ITEM_TS_MAX,
    MAX_PAYLOAD_BYTES,
    MAX_SEQ,
    Batch,
    BootId,
    Detection,
    DeviceId,
    Event,
    Item,
    Reading,
    Status,
    Update,
    device_from_topic,
)


def _time_text(_source: Any, _handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
    """The text of a UTC date-time from 2020 on, matched by pydantic-core; parse_message turns
    it into the datetime the annotation names, once per distinct text."""
    return core_schema.str_schema(strict=True, pattern=_UTC_TEXT,
                                  serialization=core_schema.simple_ser_schema("datetime"))


#: What a synchronised node sends (agrifleet's outbox writes isoformat() of an aware UTC time).
_UTC_TEXT = r"^20[2-9][0-9]-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?(Z|\+00:00)$"


class _HotReading(Reading):
    """A contract reading checked by pydantic-core alone (no Python call per item): finite
    numbers, a time written in UTC from 2020 on (text until parse_message parses it). A batch
    this refuses goes the contract's way (the same verdicts, slower)."""

    ts: Annotated[datetime, GetPydanticSchema(_time_text)]
    uptime_s: float = Field(ge=0, allow_inf_nan=False)
    value: float = Field(allow_inf_nan=False)


class _HotBatch(Batch):
    """The hot message: a batch, its readings checked the fast way."""

    items: list[
        Annotated[_HotReading | Detection | Event | Update, Field(discriminator="kind")]
    ] = Field(min_length=1, max_length=5000)  # type: ignore[assignment]


_HOT: TypeAdapter[_HotBatch] = TypeAdapter(_HotBatch)
_BATCH: TypeAdapter[Batch] = TypeAdapter(Batch)
_STATUS: TypeAdapter[Status] = TypeAdapter(Status)
_ITEM: TypeAdapter[Reading | Detection | Event | Update] = TypeAdapter(Item)
#: A largest value for the fleet's 64-bit integer columns.
_MAX_INT64 = 2**63 - 1
#: No synchronised clock reads a date before this; an item dated earlier that claims
#: ``clock_synced`` is refused (an unsynchronised node may still send 1970, see the contract).
SYNCED_TS_MIN = datetime(2020, 1, 1, tzinfo=UTC)

#: Reasons a whole message is refused (the ``reason`` label of the refused counter).
Reason = Literal[
    "oversized",
    "malformed_json",
    "invalid_payload",
    "device_mismatch",
    "unknown_topic",
    "unknown_device",
    "storage_error",
    "revoked_device",
]


class _Envelope(BaseModel):
    """A batch whose items are not checked yet."""

    model_config = ConfigDict(extra="forbid")
    v: Literal[1] = 1
    device_id: DeviceId
    boot_id: BootId
    items: list[Any] = Field(min_length=1, max_length=5000)


@dataclass
class Refusal:
    reason: Reason
    detail: str
    device_id: str | None = None


@dataclass
class CheckedBatch:
    """A batch's storable items, and the seqs of items refused for good with the reason."""

    device_id: str
    boot_id: str
    readings: list[Reading] = field(default_factory=list)
    detections: list[tuple[Detection, bytes | None]] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    updates: list[Update] = field(default_factory=list)
    rejected: dict[int, str] = field(default_factory=dict)
    #: Rejected seqs no device could have produced (beyond the contract, or an absurd jump):
    #: acknowledged as rejected, but not counted as received in the gap report.
    impossible: set[int] = field(default_factory=set)

    def received_seqs(self) -> list[int]:
        """Seqs the boot's gap bookkeeping counts: stored or refused, but possible."""
        refused = [s for s in self.rejected if s <= MAX_SEQ and s not in self.impossible]
        return self.accepted_seqs() + refused

    def reject(self, seqs: dict[int, str], impossible: bool = False) -> None:
        """Move the items with these seqs from the storable lists to ``rejected``."""
        if not seqs:
            return
        self.readings = [r for r in self.readings if r.seq not in seqs]
        self.detections = [d for d in self.detections if d[0].seq not in seqs]
        self.events = [e for e in self.events if e.seq not in seqs]
        self.updates = [u for u in self.updates if u.seq not in seqs]
        self.rejected.update(seqs)
        if impossible:
            self.impossible.update(seqs)

    def only(self, seqs: set[int]) -> CheckedBatch:
        """A copy holding just the storable items with these seqs, and no rejections."""
        return CheckedBatch(
            self.device_id,
            self.boot_id,
            readings=[r for r in self.readings if r.seq in seqs],
            detections=[d for d in self.detections if d[0].seq in seqs],
            events=[e for e in self.events if e.seq in seqs],
            updates=[u for u in self.updates if u.seq in seqs],
        )

    def accepted_seqs(self) -> list[int]:
        return (
            [r.seq for r in self.readings]
            + [d.seq for d, _ in self.detections]
            + [e.seq for e in self.events]
            + [u.seq for u in self.updates]
        )


@dataclass
class CheckedStatus:
    device_id: str
    status: Status


def parse_message(
    prefix: str, topic: str, payload: bytes
) -> CheckedBatch | CheckedStatus | Refusal:
    """Check one message from ``{prefix}/{device}/messages`` or ``…/status``."""
    where = device_from_topic(prefix, topic)
    if where is None or where[1] not in ("messages", "status"):
        return Refusal("unknown_topic", f"not a device topic: {topic[:200]!r}")
    device, leaf = where
    if len(payload) > MAX_PAYLOAD_BYTES:
        return Refusal("oversized", f"{len(payload)} bytes > {MAX_PAYLOAD_BYTES}", device)
    if leaf == "status":
        return _parse_status(device, payload)
    batch: Batch | None = None
    with contextlib.suppress(ValidationError):  # if so, the contract's verdict below
        batch = _hot_times(_HOT.validate_json(payload))
    if batch is None:
        try:
            batch = _BATCH.validate_json(payload)
        except ValidationError:
            return _parse_batch_slowly(device, payload)
    if batch.device_id != device:
        return _mismatch(device, batch.device_id)
    checked = CheckedBatch(device, batch.boot_id)
    # JSON must escape NUL as \u0000: without that sequence no text can hold one.
    may_hold_nul = b"\\u0000" in payload
    readings = checked.readings
    for item in batch.items:
        kind = type(item)  # not isinstance: pydantic's metaclass makes that slow
        if kind is _HotReading or (  # the common case, checked inline for speed
            kind is Reading
            and not may_hold_nul
            and (item.ts >= SYNCED_TS_MIN or not item.clock_synced)
            and math.isfinite(item.value)  # type: ignore[union-attr]
            and math.isfinite(item.uptime_s)
        ):  # time from 2020 on, numbers finite, no NUL (no escapes)
            readings.append(item)  # type: ignore[arg-type]
        else:
            _sort_item(item, checked)
    return checked


def _hot_times(batch: _HotBatch) -> _HotBatch | None:
    """Give the fast-parsed readings their times (one datetime per distinct text, shared, so
    its hash is computed once), or None when one is not a date the contract accepts."""
    times: dict[str, datetime] = {}
    for item in batch.items:
        if type(item) is _HotReading:
            text: str = item.ts  # type: ignore[assignment]
            ts = times.get(text)
            if ts is None:
                try:
                    ts = datetime.fromisoformat(text)  # UTC (the pattern says so), or a bad date
                except ValueError:
                    return None
                if ts >= ITEM_TS_MAX:
                    return None
                ts = times[text] = ts.astimezone(UTC)
            item.__dict__["ts"] = ts  # the model is frozen to callers; this completes it
    return batch


def _mismatch(topic_device: str, payload_device: str) -> Refusal:
    return Refusal(
        "device_mismatch",
        f"payload device_id {payload_device!r} does not match the topic's {topic_device!r}",
        topic_device,
    )


def _parse_status(device: str, payload: bytes) -> CheckedStatus | Refusal:
    try:
        status = _STATUS.validate_json(payload)
    except ValidationError as exc:
        return _explain(device, exc)
    if status.device_id != device:
        return _mismatch(device, status.device_id)
    return CheckedStatus(device, status)


def _explain(device: str, exc: ValidationError) -> Refusal:
    first = exc.errors()[0]
    if first["type"] == "json_invalid":
        return Refusal("malformed_json", first["msg"], device)
    where = ".".join(str(p) for p in first["loc"]) or "payload"
    return Refusal("invalid_payload", f"{where}: {first['msg']}", device)


def _parse_batch_slowly(device: str, payload: bytes) -> CheckedBatch | Refusal:
    try:
        raw = json.loads(payload)
    except (ValueError, UnicodeDecodeError) as exc:
        return Refusal("malformed_json", str(exc)[:200], device)
    try:
        envelope = _Envelope.model_validate(raw)
    except ValidationError as exc:
        return _explain(device, exc)
    if envelope.device_id != device:
        return _mismatch(device, envelope.device_id)
    checked = CheckedBatch(device, envelope.boot_id)
    for raw_item in envelope.items:
        try:
            item = _ITEM.validate_python(raw_item)
        except ValidationError as exc:
            seq = raw_item.get("seq") if isinstance(raw_item, dict) else None
            # Any whole seq is named in the ack, so the device can drop even one the contract
            # refuses; only seqs within the contract count for the gap report.
            if isinstance(seq, int) and not isinstance(seq, bool) and seq >= 0:
                first = exc.errors()[0]
                where = ".".join(str(p) for p in first["loc"]) or "item"
                checked.rejected[seq] = f"invalid item: {where}: {first['msg']}"[:300]
                if seq > MAX_SEQ:
                    checked.impossible.add(seq)
            continue
        _sort_item(item, checked)
    if not checked.accepted_seqs() and not checked.rejected:
        return Refusal("invalid_payload", "no item carries a valid seq", device)
    return checked


def _sort_item(item: Reading | Detection | Event | Update, checked: CheckedBatch) -> None:
    """Checks pydantic cannot express (finite numbers, text a database accepts, JPEG bytes)."""
    problem = _problem(item)
    if problem is not None:
        checked.rejected[item.seq] = problem
    elif isinstance(item, Reading):
        checked.readings.append(item)
    elif isinstance(item, Event):
        checked.events.append(item)
    elif isinstance(item, Update):
        checked.updates.append(item)
    else:
        image = None
        if item.thumbnail_jpeg_b64:
            try:
                image = base64.b64decode(item.thumbnail_jpeg_b64, validate=True)
            except (binascii.Error, ValueError):
                checked.rejected[item.seq] = "thumbnail is not valid base64"
                return
            if not image.startswith(b"\xff\xd8"):
                checked.rejected[item.seq] = "thumbnail is not a JPEG"
                return
        checked.detections.append((item, image))


def _problem(item: Reading | Detection | Event | Update) -> str | None:
    if item.clock_synced and item.ts < SYNCED_TS_MIN:
        return (f"synced_before_{SYNCED_TS_MIN.year}: ts {item.ts.isoformat()} is before "
                f"{SYNCED_TS_MIN.year} on a clock said to be synchronised")  # fmt: skip
    if not math.isfinite(item.uptime_s):
        return "uptime_s is not a finite number"
    if isinstance(item, Reading):
        if not math.isfinite(item.value):
            return "value is not a finite number"
        texts: tuple[str | None, ...] = (item.sensor, item.quantity, item.unit)
    elif isinstance(item, Event):
        texts = (item.code, item.message, item.sensor)
    elif isinstance(item, Update):
        numbers = (item.rollout_id, item.bytes_done, item.bytes_total)
        if any(n is not None and n > _MAX_INT64 for n in numbers):
            return "number out of range (more than 2^63 - 1)"
        if item.gate is not None and not math.isfinite(item.gate.latency_ms):
            return "gate.latency_ms is not a finite number"
        texts = (item.model, item.version, item.reason)
    else:
        if not math.isfinite(item.inference_ms):
            return "inference_ms is not a finite number"
        texts = (item.camera, item.label, item.model.name, item.model.version)
        texts += tuple(t.label for t in item.top3)
    if any(t is not None and "\x00" in t for t in texts):
        return "text contains a NUL character"
    too_long = [
        (value, limit)
        for value, limit in _text_limits(item)
        if value is not None and len(value) > limit
    ]
    if too_long:
        return f"text longer than {too_long[0][1]} characters"
    return None


def _text_limits(item: Reading | Detection | Event | Update) -> list[tuple[str | None, int]]:
    """Text fields whose column is shorter than the contract allows."""
    if isinstance(item, Event):
        return [(item.sensor, 64)]
    if isinstance(item, Detection):
        return [(item.label, 128), (item.model.name, 128), (item.model.version, 64)]
    return []
