"""What the nodes report, as stored: readings, the latest reading per sensor, detections,
events, model updates, and per boot the sequence numbers received (gaps); with their API
shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Index,
    LargeBinary,
    UniqueConstraint,
    false,
)
from sqlmodel import Field, SQLModel

from agrifleet.fleet.columns import BigId, UtcDateTime
from agrifleet.fleet.devices.tables import DevicePublic


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


class _RollupBase(SQLModel):
    device_id: str = Field(primary_key=True, max_length=64)
    sensor: str = Field(primary_key=True, max_length=64)
    quantity: str = Field(primary_key=True, max_length=64)
    #: Start of the bucket (UTC, aligned to the epoch).
    bucket: datetime = Field(primary_key=True, sa_type=UtcDateTime)
    count: int = Field(sa_type=BigInteger)
    #: NULL where the sum is not a number (+inf and -inf stored by hand; SQLite keeps no NaN).
    sum: float | None
    min: float
    max: float


class ReadingHourly(_RollupBase, table=True):
    """Readings per device, sensor, quantity and UTC hour."""

    __tablename__ = "reading_hourly"


class ReadingDaily(_RollupBase, table=True):
    """Readings per device, sensor, quantity and UTC day."""

    __tablename__ = "reading_daily"
