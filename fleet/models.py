"""Database tables and API shapes, named like full-stack-fastapi-template (Base/Create/Public)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, StringConstraints, field_validator
from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    UniqueConstraint,
    false,
)
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine
from sqlmodel import Field, SQLModel

from agrifleet.contract import DeviceId, ModelRef

#: A device tag, for choosing rollout targets (``--tag``).
Tag = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")]

#: An autoincrementing id: BIGINT on PostgreSQL, the rowid alias on SQLite.
BigId = BigInteger().with_variant(Integer(), "sqlite")


def utcnow() -> datetime:
    return datetime.now(UTC)


#: Years SQLite may hold with fewer than four digits ("1-01-01 …", from strftime, unpadded).
_SHORT_YEAR = re.compile(r"(\d{1,3})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)(?:\.(\d{6}))?$")


class _SqliteDateTime(sqlite.DATETIME):
    """SQLite's DATETIME (ISO text), also reading years an older writer did not pad."""

    def result_processor(self, dialect: Dialect, coltype: object) -> Any:
        def process(value: str | None) -> datetime | None:
            if value is None:
                return None
            try:
                return datetime.fromisoformat(value)
            except ValueError:
                found = _SHORT_YEAR.match(value)
                if found is None:
                    raise
                y, mo, d, h, mi, sec, us = (int(part or 0) for part in found.groups())
                return datetime(y, mo, d, h, mi, sec, us)

        return process


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in and out on every database (naive input counts as UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(_SqliteDateTime())
        return dialect.type_descriptor(self.impl)

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# --- devices ---------------------------------------------------------------------------------


class DeviceBase(SQLModel):
    id: str = Field(primary_key=True, max_length=64, description="The device id (MQTT user)")
    name: str = Field(default="", max_length=128, description="A name people recognise")


def not_a_boolean(cls: type, value: object) -> object:
    """A farm or field id is an integer (1.0 is 1, as JSON Schema has it), never a boolean:
    Python would read false as 0, "take the device off its field"."""
    if isinstance(value, bool):
        raise ValueError("must be a number, not true or false")
    return value


class DeviceCreate(SQLModel):
    """Register a device so the fleet accepts its messages."""

    model_config = ConfigDict(extra="forbid")  # type: ignore[assignment]

    id: DeviceId = Field(description="Device id, as in its config and MQTT user name")
    name: str = Field(default="", max_length=128, schema_extra={"pattern": r"^[^\x00]*$"})
    tags: list[Tag] = Field(default_factory=list, max_length=32, description="For rollouts")
    farm_id: int | None = Field(default=None, ge=1, le=2**31 - 1,
                                description="The farm it belongs to; without it the default "
                                "farm (service tokens, or a member of the default farm)")
    field_id: int | None = Field(default=None, ge=1, le=2**31 - 1,
                                 description="A field of that farm")

    _ids_are_numbers = field_validator("farm_id", "field_id", mode="before")(not_a_boolean)


class DeviceUpdate(SQLModel):
    """Change a device's name or tags (what is left out stays)."""

    model_config = ConfigDict(extra="forbid")  # type: ignore[assignment]

    name: str | None = Field(default=None, max_length=128, schema_extra={"pattern": r"^[^\x00]*$"})
    tags: list[Tag] | None = Field(default=None, max_length=32)
    field_id: int | None = Field(default=None, ge=0, le=2**31 - 1,
                                 description="A field of the device's farm; 0 takes it "
                                 "off its field (a number: true/false are refused)")

    _ids_are_numbers = field_validator("field_id", mode="before")(not_a_boolean)


#: The farm every device belongs to until it is given another (created by migration 0005).
DEFAULT_FARM_ID = 1


class Device(DeviceBase, table=True):
    farm_id: int = Field(default=DEFAULT_FARM_ID, foreign_key="farm.id", index=True)
    field_id: int | None = Field(default=None, foreign_key="field.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    online: bool = Field(default=False)
    last_seen: datetime | None = Field(default=None, sa_type=UtcDateTime)
    boot_id: str | None = Field(default=None, max_length=64)
    status_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    health: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    tags: list[str] = Field(default_factory=list, sa_type=JSON)
    revoked_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class Position(SQLModel):
    latitude: float
    longitude: float
    ts: datetime = Field(description="Time of the newer of the two readings")


class DevicePublic(DeviceBase):
    created_at: datetime
    online: bool = Field(
        description="Its last status (or last will) said online, and it was heard from within "
        "AGRIFLEET_OFFLINE_AFTER_S"
    )
    last_seen: datetime | None = Field(description="Last status or message from the device")
    boot_id: str | None = Field(description="The boot the device reported last")
    position: Position | None = Field(
        default=None, description="From the latest latitude/longitude readings"
    )
    tags: list[str] = Field(default_factory=list)
    farm_id: int = DEFAULT_FARM_ID
    field_id: int | None = None
    model: ModelRef | None = Field(
        default=None, description="The model the node runs, from its last status"
    )


class LatestReadingPublic(SQLModel):
    sensor: str
    quantity: str
    value: float
    unit: str
    ts: datetime
    boot_id: str
    seq: int


class BootGaps(SQLModel):
    """What the fleet received of one boot, and which sequence numbers never arrived."""

    boot_id: str
    first_seen: datetime
    last_seen: datetime
    received: int = Field(description="Distinct items received (stored or rejected)")
    highest_seq: int
    missing: int = Field(description="Sequence numbers from 0 to highest_seq never received")
    missing_ranges: list[tuple[int, int]] = Field(
        description="Inclusive [first, last] ranges of missing seqs (the first 1000)"
    )


class GapSummary(SQLModel):
    boots: int
    boots_with_gaps: int
    missing: int = Field(description="Missing items over all boots")


class DeviceDetail(DevicePublic):
    health: dict[str, Any] | None = Field(description="Health from the last status message")
    latest: list[LatestReadingPublic] = Field(description="Last reading per sensor and quantity")
    gaps: GapSummary


class DeviceBoot(SQLModel, table=True):
    """Per device and boot: the received sequence numbers as ranges, to show gaps."""

    device_id: str = Field(primary_key=True, foreign_key="device.id", max_length=64)
    boot_id: str = Field(primary_key=True, max_length=64)
    first_seen: datetime = Field(sa_type=UtcDateTime)
    last_seen: datetime = Field(sa_type=UtcDateTime)
    received: int = Field(default=0, sa_type=BigInteger)
    highest_seq: int = Field(default=0, sa_type=BigInteger)
    ranges: list[list[int]] = Field(default_factory=list, sa_type=JSON)


# --- readings --------------------------------------------------------------------------------


class ItemBase(SQLModel):
    """What every stored item (reading, detection, event, update) says about where it came from."""

    device_id: str = Field(foreign_key="device.id", max_length=64)
    boot_id: str = Field(max_length=64, description='The device\'s boot, or "fleet" for an '
                         "event the fleet recorded itself")
    seq: int = Field(sa_type=BigInteger)
    ts: datetime = Field(sa_type=UtcDateTime, description="Device time the item was taken")
    uptime_s: float
    clock_synced: bool
    future: bool = Field(
        default=False,
        sa_column_kwargs={"server_default": false()},
        description="ts was ahead of the fleet's clock by more than AGRIFLEET_FUTURE_TOLERANCE_S "
        "when stored: kept, but never the latest reading nor in the latency metric",
    )


class ReadingBase(ItemBase):
    sensor: str = Field(max_length=64)
    quantity: str = Field(max_length=64)
    value: float
    unit: str = Field(max_length=32)


class Reading(ReadingBase, table=True):
    """A raw reading. On PostgreSQL the table is partitioned by month of ``ts``, and its
    primary key and ``uq_reading_item`` include ``ts`` (fleet/telemetry/partitions.py)."""

    __table_args__ = (
        UniqueConstraint("device_id", "boot_id", "seq", name="uq_reading_item"),
        Index("ix_reading_device_ts", "device_id", "ts"),
    )
    #: No foreign key: the writer stores readings of registered devices only (it looks each
    #: device up before the transaction), and a key checked per row halves PostgreSQL's rate.
    device_id: str = Field(max_length=64)
    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    stored_at: datetime = Field(sa_type=UtcDateTime)


class ReadingPublic(ReadingBase):
    id: int
    stored_at: datetime


class ReadingBucket(SQLModel):
    """Readings of one sensor quantity downsampled into a time bucket."""

    sensor: str
    quantity: str
    start: datetime = Field(description="Start of the bucket (UTC, aligned to the epoch)")
    count: int
    min: float
    mean: float
    max: float


class LatestReading(SQLModel, table=True):
    """The newest reading per device, sensor and quantity, kept by the writer."""

    device_id: str = Field(primary_key=True, foreign_key="device.id", max_length=64)
    sensor: str = Field(primary_key=True, max_length=64)
    quantity: str = Field(primary_key=True, max_length=64)
    value: float
    unit: str = Field(max_length=32)
    ts: datetime = Field(sa_type=UtcDateTime)
    boot_id: str = Field(max_length=64)
    seq: int = Field(sa_type=BigInteger)


# --- detections ------------------------------------------------------------------------------


class DetectionBase(ItemBase):
    camera: str = Field(max_length=64)
    label: str = Field(max_length=128, description='Class label, or "uncertain"')
    confidence: float
    uncertain: bool
    top3: list[dict[str, Any]] = Field(sa_type=JSON, description="[{label, confidence}, …]")
    model_name: str = Field(max_length=128)
    model_version: str = Field(max_length=64)
    model_sha256: str = Field(max_length=64)
    inference_ms: float
    image_sha256: str = Field(max_length=64)
    # The crop and the disease on their own; null for nodes that do not send them.
    crop: str | None = Field(default=None, max_length=128,
                             description='Crop name, or "uncertain"; null from older nodes')
    crop_confidence: float | None = None
    crop_uncertain: bool | None = None
    disease: str | None = Field(default=None, max_length=128,
                                description='Disease name ("healthy" included), or "uncertain"')
    disease_confidence: float | None = None
    disease_uncertain: bool | None = None


class Detection(DetectionBase, table=True):
    __table_args__ = (
        UniqueConstraint("device_id", "boot_id", "seq", name="uq_detection_item"),
        Index("ix_detection_device_ts", "device_id", "ts"),
        Index("ix_detection_label_ts", "label", "ts"),
        Index("ix_detection_ts", "ts"),
        Index("ix_detection_disease_ts", "disease", "ts"),
    )
    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    stored_at: datetime = Field(sa_type=UtcDateTime)
    thumbnail: bytes | None = Field(default=None, sa_type=LargeBinary)


class DetectionPublic(DetectionBase):
    id: int
    stored_at: datetime
    has_image: bool = Field(description="A thumbnail is at /api/v1/detections/{id}/image")
    verdict: str | None = Field(default=None, description="A person's verdict: confirmed or "
                                "rejected (POST /api/v1/detections/{id}/verdict); the latest wins")
    verdict_label: str | None = Field(default=None, description="The right class they named")
    verdict_by: str | None = Field(default=None, description="Who gave the verdict")
    verdict_at: datetime | None = Field(default=None, description="When")


# --- events ----------------------------------------------------------------------------------


class EventBase(ItemBase):
    severity: str = Field(max_length=16, description="info, warning or alert")
    code: str = Field(max_length=64)
    message: str = Field(max_length=1024)
    sensor: str | None = Field(default=None, max_length=64)


class Event(EventBase, table=True):
    __table_args__ = (
        UniqueConstraint("device_id", "boot_id", "seq", name="uq_event_item"),
        Index("ix_event_device_ts", "device_id", "ts"),
    )
    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    stored_at: datetime = Field(sa_type=UtcDateTime)


class EventPublic(EventBase):
    id: int
    stored_at: datetime


# --- model updates ---------------------------------------------------------------------------


class ModelUpdateBase(ItemBase):
    """One step of a model update a node reported (contract ``Update``); rollouts read these."""

    rollout_id: int = Field(sa_type=BigInteger)
    model: str = Field(max_length=64)
    version: str = Field(max_length=32)
    state: str = Field(max_length=16, description="offered … active, failed, rolled_back")
    reason: str | None = Field(default=None, max_length=1024)
    bytes_done: int | None = Field(default=None, sa_type=BigInteger)
    bytes_total: int | None = Field(default=None, sa_type=BigInteger)
    gate: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    active: dict[str, Any] | None = Field(default=None, sa_type=JSON)


class ModelUpdate(ModelUpdateBase, table=True):
    __table_args__ = (
        UniqueConstraint("device_id", "boot_id", "seq", name="uq_modelupdate_item"),
        Index("ix_modelupdate_rollout_id", "rollout_id", "id"),
    )
    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    stored_at: datetime = Field(sa_type=UtcDateTime)


class ModelUpdatePublic(ModelUpdateBase):
    id: int
    stored_at: datetime


# --- API tokens ------------------------------------------------------------------------------

Role = Literal["admin", "technician", "viewer"]
#: technician: read everything, publish models and steer rollouts; admin: also devices.
ROLES: tuple[Role, ...] = ("admin", "technician", "viewer")


class ApiToken(SQLModel, table=True):
    """An API token; only the SHA-256 of the secret is stored."""

    id: int | None = Field(default=None, primary_key=True)
    role: str = Field(max_length=16)
    name: str = Field(default="", max_length=128)
    token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)


class Message(SQLModel):
    detail: str
