"""The message contract between a field node and the fleet: MQTT topics and JSON payloads.

This is the only module `edge/` and `fleet/` share. It imports pydantic and nothing heavier.
docs/protocol.md describes the same contract for people; keep the two in step.

Topics, under a configurable prefix (default ``agrifleet``):

- ``{prefix}/{device}/status``, device → fleet, retained: :class:`Status`; the last will is the
  same with ``state="offline"``.
- ``{prefix}/{device}/messages``, device → fleet: a :class:`Batch` of readings, detections and
  events.
- ``{prefix}/{device}/ack``, fleet → device: an :class:`Ack` once the fleet has *stored* items.
- ``{prefix}/{device}/model/offer``, fleet → device, retained: a :class:`ModelOffer` of the
  rollout the device is in (an empty retained payload withdraws it).
- ``{prefix}/_fleet/status``, fleet → everyone, retained: :class:`FleetStatus`, so a node knows
  when the fleet's ingestion (re)started and can resend what waits for an ack at once.

Every topic and subscription filter is written out only here (the functions at the end); the
broker ACL (:func:`device_topics`) and the fleet's subscriptions derive from them.

Every item a device produces gets a sequence number that grows by exactly one within a boot
(``boot_id``), so the fleet can tell a gap (lost data) from silence. Status messages are state,
not items, and carry no sequence number.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    TypeAdapter,
    ValidationError,
    model_serializer,
)

CONTRACT_VERSION: Literal[1] = 1
DEFAULT_PREFIX = "agrifleet"
#: The fleet refuses any MQTT payload larger than this many bytes.
MAX_PAYLOAD_BYTES = 256 * 1024
#: A detection's thumbnail, base64-encoded JPEG, is capped at this many characters.
MAX_THUMBNAIL_B64 = 24 * 1024

#: The largest seq an item may carry: 2^53 - 1, the largest integer every JSON reader (a
#: JavaScript Number, any parser that reads numbers as doubles) holds exactly. A node making
#: 1000 items a second reaches it after 285,000 years; a larger seq is a bug, not data.
MAX_SEQ = 2**53 - 1
#: An item's ``ts`` lies in [ITEM_TS_MIN, ITEM_TS_MAX): from the Unix epoch, where the clock of a
#: node without a real-time clock starts, to a year no device reaches, so that every time
#: converts to UTC and to epoch seconds on every database.
ITEM_TS_MIN = datetime(1970, 1, 1, tzinfo=UTC)
ITEM_TS_MAX = datetime(2200, 1, 1, tzinfo=UTC)


def _item_time(value: object) -> datetime:
    """An ISO 8601 date and time with a zone (or an aware datetime), in range, as UTC."""
    if isinstance(value, str):
        try:
            when = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError("must be an ISO 8601 date and time with a zone") from None
    elif isinstance(value, datetime):
        when = value
    else:
        kind = {type(None): "null", bool: "a boolean", int: "a number", float: "a number"}
        got = kind.get(type(value), type(value).__name__)
        raise ValueError(f"must be an ISO 8601 string with a zone, not {got}")
    if when.utcoffset() is None:
        raise ValueError("has no zone: add Z or +00:00")
    if not ITEM_TS_MIN <= when < ITEM_TS_MAX:
        raise ValueError(f"is outside {ITEM_TS_MIN.year}..{ITEM_TS_MAX.year - 1}")
    return when.astimezone(UTC)


#: An item's time: ISO 8601 with a zone only (no numbers, no naive times), normalised to UTC.
ItemTime = Annotated[datetime, BeforeValidator(_item_time)]

#: The fleet's own broker user; no device may take this id (it would get the fleet's rights).
FLEET_USER = "fleet"
#: Every device's MQTT client id is this plus its device id (:func:`device_client_id`).
CLIENT_ID_PREFIX = "agrifleet-"
#: The fleet's client ids are ``agrifleet-fleet`` and ``agrifleet-fleet-…`` (ingest workers,
#: the API's publisher, account changes); a device id may therefore not start with ``fleet-``.
FLEET_CLIENT_ID = CLIENT_ID_PREFIX + FLEET_USER


def _not_the_fleet(device_id: str) -> str:
    if device_id == FLEET_USER:
        raise ValueError(f"{FLEET_USER!r} is the fleet's own broker user, not a device id")
    if device_id.startswith(FLEET_USER + "-"):
        raise ValueError(f"device ids starting with {FLEET_USER + '-'!r} are kept for the "
                         "fleet's own broker connections")
    return device_id


DeviceId = Annotated[
    str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"), AfterValidator(_not_the_fleet)
]
_DEVICE_ID: TypeAdapter[str] = TypeAdapter(DeviceId)
BootId = Annotated[str, Field(min_length=1, max_length=64)]


class _Payload(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Item(_Payload):
    """Fields every sequenced item carries."""

    seq: int = Field(
        ge=0, le=MAX_SEQ, strict=True, description="Grows by exactly one per item within a boot"
    )
    ts: ItemTime = Field(
        description="Device time the item was taken (corrected if possible), ISO 8601 with a zone"
    )
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


class DetectionPart(_Payload):
    """The crop or the disease of a detection on its own: "late blight, crop uncertain"."""

    name: str = Field(
        min_length=1, max_length=128,
        description='Crop or disease name ("Tomato", "Late blight", "healthy"), or "uncertain" '
        "below the model's threshold for it",
    )
    confidence: float = Field(ge=0, le=1, description="Sum of the probabilities of its classes")
    uncertain: bool


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
    # Optional, so nodes from before the crop/disease split are still accepted.
    crop: DetectionPart | None = Field(default=None, description="The crop alone")
    disease: DetectionPart | None = Field(default=None, description="The disease alone")

    @model_serializer(mode="wrap")
    def _omit_absent_parts(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """No ``"crop": null``: a detection without parts reads as it did before them (the
        same bytes, so an older fleet accepts it and outbox budgets are unchanged)."""
        data: dict[str, Any] = handler(self)
        for part in ("crop", "disease"):
            if data.get(part, 0) is None:
                del data[part]
        return data


class Event(_Item):
    """Something a person may need to know: a sensor that stopped answering, an alert."""

    kind: Literal["event"] = "event"
    severity: Literal["info", "warning", "alert"]
    code: str = Field(min_length=1, max_length=64)
    message: str = Field(max_length=1024)
    sensor: str | None = None


UpdateState = Literal[
    "offered", "downloading", "verifying", "selftest", "shadow", "active", "failed", "rolled_back"
]


class GateFigures(_Payload):
    """How a model under test behaved in shadow beside the current one on the node's photos."""

    images: int = Field(ge=0, description="Live photos both models classified")
    agreement: float = Field(ge=0, le=1, description="Share of the photos either model answered "
                             "(not 'uncertain') on which both gave the same answer")
    answered: int | None = Field(default=None, ge=0, description="Photos either model answered "
                                 "(what agreement is out of); absent from older nodes")
    both_answered: float | None = Field(default=None, ge=0, le=1, description="Share of the "
                                        "photos both models answered")
    mean_confidence: float = Field(ge=0, le=1, description="The new model's mean top-1 confidence")
    uncertain_rate: float = Field(ge=0, le=1, description="Share the new model called uncertain")
    latency_ms: float = Field(ge=0, description="The new model's median inference time")


class Update(_Item):
    """One step of a model update on the node, reported through the outbox like any item."""

    kind: Literal["update"] = "update"
    rollout_id: int = Field(ge=1)
    model: str = Field(min_length=1, max_length=64, description="Model name being installed")
    version: str = Field(min_length=1, max_length=32, description="Version being installed")
    state: UpdateState
    reason: str | None = Field(default=None, max_length=1024, description="Why it failed")
    bytes_done: int | None = Field(default=None, ge=0)
    bytes_total: int | None = Field(default=None, ge=0)
    gate: GateFigures | None = None
    active: ModelRef | None = Field(default=None, description="The model the node runs now")


Item = Annotated[Reading | Detection | Event | Update, Field(discriminator="kind")]


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
    model: ModelRef | None = Field(default=None, description="The model the cameras run")
    previous_model: ModelRef | None = Field(
        default=None, description="The model kept for rollback"
    )
    takes_offers: bool | None = Field(
        default=None,
        description="Whether the node takes the fleet's model offers (an [updates] section in "
        "its config); unset by agents older than this field",
    )
    degraded: dict[str, str] = Field(
        default_factory=dict,
        description="code → message for each way the node is not working normally "
        "(for example outbox_unwritable); empty when all is well",
    )


class Status(_Payload):
    """Retained on ``{prefix}/{device}/status``; the last will is the same with state offline."""

    v: Literal[1] = CONTRACT_VERSION
    device_id: DeviceId
    boot_id: BootId
    state: Literal["online", "offline"]
    ts: ItemTime | None = Field(default=None, description="Device time, as an item's ts")
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


class GateLimits(_Payload):
    """What a model must do in shadow before the node switches to it (unset: no limit)."""

    min_agreement: float | None = Field(default=None, ge=0, le=1)
    min_mean_confidence: float | None = Field(default=None, ge=0, le=1)
    max_uncertain_rate: float | None = Field(default=None, ge=0, le=1)
    max_latency_ms: float | None = Field(default=None, gt=0)


class ModelOffer(_Payload):
    """Retained on ``{prefix}/{device}/model/offer``: install this package (or roll back to it)."""

    v: Literal[1] = CONTRACT_VERSION
    rollout_id: int = Field(ge=1)
    name: str = Field(min_length=1, max_length=64)
    version: str = Field(min_length=1, max_length=32)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="sha256 of the package archive")
    size: int = Field(gt=0, description="Bytes of the package archive")
    url: str = Field(max_length=2048, description="HTTP(S) download address of the archive")
    token: str = Field(min_length=16, max_length=256,
                       description="Download token bound to this device and package")
    expires: datetime = Field(description="The offer (and its token) is void after this")
    rollback: bool = Field(default=False,
                           description="An explicit decision to go back to an older version")
    shadow_images: int = Field(default=20, ge=0, description="Photos to classify in shadow")
    shadow_max_s: float = Field(default=3600, ge=0, description="Longest shadow period")
    limits: GateLimits = Field(default_factory=GateLimits,
                               description="The node stays on its model when these are missed")


class FleetStatus(_Payload):
    """Retained on ``{prefix}/_fleet/status``; the fleet's last will is the same, offline."""

    v: Literal[1] = CONTRACT_VERSION
    state: Literal["online", "offline"]
    instance: str = Field(min_length=1, max_length=64,
                          description="New at every start of the fleet's ingestion")
    ts: datetime | None = None


#: The topic segment of the fleet's own topics; no device id can be this (see DeviceId).
FLEET_SEGMENT = "_fleet"

#: What a client may do with a topic or filter: publish to it (write) or subscribe (read).
TopicAccess = Literal["read", "write"]


def status_topic(prefix: str, device_id: str) -> str:
    return f"{prefix}/{device_id}/status"


def messages_topic(prefix: str, device_id: str) -> str:
    return f"{prefix}/{device_id}/messages"


def ack_topic(prefix: str, device_id: str) -> str:
    return f"{prefix}/{device_id}/ack"


def model_topics(prefix: str, device_id: str) -> str:
    """The filter of every model-update topic of one device (its offer, and any to come)."""
    return f"{prefix}/{device_id}/model/#"


def offer_topic(prefix: str, device_id: str) -> str:
    return f"{prefix}/{device_id}/model/offer"


def fleet_status_topic(prefix: str) -> str:
    return f"{prefix}/{FLEET_SEGMENT}/status"


def messages_filter(prefix: str) -> str:
    """The subscription that receives every device's Batches."""
    return messages_topic(prefix, "+")


def status_filter(prefix: str) -> str:
    """The subscription that receives every device's Status (and the fleet's own, to skip)."""
    return status_topic(prefix, "+")


def prefix_filter(prefix: str) -> str:
    """Every topic under the prefix: what the fleet may read and write."""
    return f"{prefix}/#"


def device_topics(prefix: str, device_id: str) -> list[tuple[TopicAccess, str]]:
    """What one device may write (its status and messages) and read (its acks, model topics and
    the fleet's status); nothing of another device. The broker ACL is derived from this."""
    return [
        ("write", status_topic(prefix, device_id)),
        ("write", messages_topic(prefix, device_id)),
        ("read", ack_topic(prefix, device_id)),
        ("read", model_topics(prefix, device_id)),
        ("read", fleet_status_topic(prefix)),
    ]


def device_client_id(device_id: str) -> str:
    """The one MQTT client id a device's broker account may connect with."""
    return CLIENT_ID_PREFIX + device_id


def is_device_client_id(client_id: str) -> bool:
    """Whether ``client_id`` is, or could be, a device's (so the fleet must never use it)."""
    if not client_id.startswith(CLIENT_ID_PREFIX):
        return False
    try:
        _DEVICE_ID.validate_python(client_id.removeprefix(CLIENT_ID_PREFIX))
    except ValidationError:
        return False
    return True


def fleet_subscriptions(prefix: str) -> list[str]:
    """What the fleet's ingestion subscribes to."""
    return [messages_filter(prefix), status_filter(prefix)]


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
