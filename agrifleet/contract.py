"""The message contract between a field node and the fleet: MQTT topics and JSON payloads.

This is the only module `edge/` and `fleet/` share. It imports pydantic and nothing heavier.
docs/protocol.md describes the same contract for people; keep the two in step.

Topics, under a configurable prefix (default ``agrifleet``):

- ``{prefix}/{device}/status``, device → fleet, retained: :class:`Status`; the last will is the
  same with ``state="offline"``.
- ``{prefix}/{device}/messages``, device → fleet: a :class:`Batch` of readings, detections and
  events.
- ``{prefix}/{device}/ack``, fleet → device: an :class:`Ack` once the fleet has *stored* items.

Every item a device produces gets a sequence number that grows by exactly one within a boot
(``boot_id``), so the fleet can tell a gap (lost data) from silence. Status messages are state,
not items, and carry no sequence number.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

CONTRACT_VERSION: Literal[1] = 1
DEFAULT_PREFIX = "agrifleet"
#: The fleet refuses any MQTT payload larger than this many bytes.
MAX_PAYLOAD_BYTES = 256 * 1024
#: A detection's thumbnail, base64-encoded JPEG, is capped at this many characters.
MAX_THUMBNAIL_B64 = 24 * 1024

DeviceId = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
BootId = Annotated[str, Field(min_length=1, max_length=64)]


class _Payload(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Item(_Payload):
    """Fields every sequenced item carries."""

    seq: int = Field(ge=0, description="Grows by exactly one per item within a boot")
    ts: datetime = Field(description="Device UTC time the item was taken (corrected if possible)")
    uptime_s: float = Field(ge=0, description="Device monotonic uptime when the item was taken")
    clock_synced: bool = Field(
        default=True, description="False when ts comes from a clock not yet synchronised"
    )


class Reading(_Item):
    kind: Literal["reading"] = "reading"
    sensor: str = Field(min_length=1, max_length=64)
    quantity: str = Field(min_length=1, max_length=64)
    value: float
    unit: str = Field(max_length=32)


class Top(_Payload):
    label: str
    confidence: float = Field(ge=0, le=1)


class ModelRef(_Payload):
    name: str
    version: str
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class Detection(_Item):
    kind: Literal["detection"] = "detection"
    camera: str = Field(min_length=1, max_length=64)
    label: str = Field(description='Class label, or "uncertain" below the class threshold')
    confidence: float = Field(ge=0, le=1)
    uncertain: bool
    top3: list[Top] = Field(max_length=3)
    model: ModelRef
    inference_ms: float = Field(ge=0)
    image_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    thumbnail_jpeg_b64: str | None = Field(default=None, max_length=MAX_THUMBNAIL_B64)


class Event(_Item):
    """Something a person may need to know: a sensor that stopped answering, an alert."""

    kind: Literal["event"] = "event"
    severity: Literal["info", "warning", "alert"]
    code: str = Field(min_length=1, max_length=64)
    message: str = Field(max_length=1024)
    sensor: str | None = None


Item = Annotated[Reading | Detection | Event, Field(discriminator="kind")]


class Batch(_Payload):
    """One MQTT message on ``{prefix}/{device}/messages``: items from one boot, in seq order."""

    v: Literal[1] = CONTRACT_VERSION
    device_id: DeviceId
    boot_id: BootId
    items: list[Item] = Field(min_length=1, max_length=5000)


class Health(_Payload):
    outbox_depth: int = Field(ge=0)
    outbox_oldest_age_s: float | None = None
    outbox_bytes: int = Field(default=0, ge=0)
    sensor_errors: dict[str, int] = Field(default_factory=dict)
    disk_free_bytes: int | None = None
    cpu_temp_c: float | None = None
    uptime_s: float = Field(default=0, ge=0)
    agent_version: str = ""


class Status(_Payload):
    """Retained on ``{prefix}/{device}/status``; the last will is the same with state offline."""

    v: Literal[1] = CONTRACT_VERSION
    device_id: DeviceId
    boot_id: BootId
    state: Literal["online", "offline"]
    ts: datetime | None = None
    health: Health | None = None


class Ack(_Payload):
    """The fleet has durably stored (or deliberately refused) these items of one boot."""

    v: Literal[1] = CONTRACT_VERSION
    boot_id: BootId
    ranges: list[tuple[int, int]] = Field(
        description="Inclusive [first, last] seq ranges that are stored (or were already)"
    )
    rejected: dict[int, str] = Field(
        default_factory=dict,
        description="seq → reason, for items the fleet will never store (device drops them)",
    )


def status_topic(prefix: str, device_id: str) -> str:
    return f"{prefix}/{device_id}/status"


def messages_topic(prefix: str, device_id: str) -> str:
    return f"{prefix}/{device_id}/messages"


def ack_topic(prefix: str, device_id: str) -> str:
    return f"{prefix}/{device_id}/ack"


def device_from_topic(prefix: str, topic: str) -> tuple[str, str] | None:
    """Split ``{prefix}/{device}/{leaf}`` into (device, leaf); None if it is not ours."""
    head, sep, rest = topic.partition("/")
    if not sep or head != prefix:
        return None
    device, sep, leaf = rest.partition("/")
    if not sep or not device or "/" in leaf:
        return None
    return device, leaf


def seq_ranges(seqs: list[int]) -> list[tuple[int, int]]:
    """Compress sequence numbers into sorted inclusive ranges: [1,2,3,7] → [(1,3),(7,7)]."""
    out: list[tuple[int, int]] = []
    for s in sorted(set(seqs)):
        if out and s == out[-1][1] + 1:
            out[-1] = (out[-1][0], s)
        else:
            out.append((s, s))
    return out
