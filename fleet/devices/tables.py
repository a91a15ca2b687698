"""The devices table and its API shapes (named like full-stack-fastapi-template:
Base/Create/Update/Public), and enrolment's: one-time codes (hashed, expiring) and a device's
credential hash.

Neither of enrolment's holds a secret: a code is kept as its SHA-256 (it has 100 random bits, so
no slow hash is needed), the node's device API credential as its SHA-256, and its broker password
is handed to the broker's dynamic security plugin (which keeps only its PBKDF2 hash) and never
stored.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import ConfigDict, StringConstraints, field_validator
from sqlalchemy import (
    JSON,
)
from sqlmodel import Field, SQLModel

from agrifleet.contract import DeviceId, ModelRef
from agrifleet.fleet.columns import BigId, UtcDateTime, utcnow

#: A device tag, for choosing rollout targets (``--tag``).
Tag = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")]


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


class EnrolmentCode(SQLModel, table=True):
    """A one-time code a technician gave out for one device."""

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    device_id: str = Field(max_length=64, foreign_key="device.id", index=True)
    code_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    created_by: str = Field(default="", max_length=128)
    expires_at: datetime = Field(sa_type=UtcDateTime)
    #: Set when a node used it, or when a newer code or a revocation made it void.
    used_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class DeviceCredential(SQLModel, table=True):
    """The hash of the device API credential a node made for itself when it enrolled."""

    device_id: str = Field(primary_key=True, max_length=64, foreign_key="device.id")
    secret_sha256: str = Field(max_length=64, unique=True)
    enrolled_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
