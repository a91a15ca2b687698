"""What the rollout API takes and gives (``RolloutCreate`` in, ``RolloutDetail`` out)."""

from __future__ import annotations

import itertools
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from agrifleet.contract import DeviceId, GateFigures, GateLimits

#: Bounds that keep every number within the database's columns (32-bit integers) and sane.
MAX_DEVICES = 100_000
MAX_SHADOW_IMAGES = 100_000
MAX_SECONDS = 365 * 24 * 3600.0


class Targets(BaseModel):
    """Exactly one of: a list of device ids, a tag, or every registered device."""

    # The schema says "exactly one" too, so a generated client never sends {} or two kinds.
    model_config = ConfigDict(extra="forbid", json_schema_extra={"oneOf": [
        {"required": ["devices"], "properties": {"devices": {"type": "array"}}},
        {"required": ["tag"], "properties": {"tag": {"type": "string"}}},
        {"required": ["all"], "properties": {"all": {"const": True}}},
    ]})

    devices: list[DeviceId] | None = Field(default=None, min_length=1, max_length=MAX_DEVICES)
    tag: str | None = Field(default=None, min_length=1, max_length=64)
    all: bool = False

    @model_validator(mode="after")
    def _one(self) -> Targets:
        chosen = sum([self.devices is not None, self.tag is not None, self.all])
        if chosen != 1:
            raise ValueError("give exactly one of devices, tag or all")
        return self


class RolloutCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: str = Field(min_length=1, max_length=64)
    version: str = Field(min_length=1, max_length=32)
    targets: Targets
    phases: list[int] = Field(default=[100], min_length=1, max_length=20,
                              description="Cumulative percentages of the targets, rising, last 100")
    min_devices: int = Field(default=1, ge=1, le=MAX_DEVICES,
                             description="Each phase reaches at least this many")
    max_failures: int | None = Field(default=None, ge=0, le=MAX_DEVICES,
                                     description="Halt above this count")
    max_failure_pct: float | None = Field(
        default=None, ge=0, le=100, description="Halt above this share of the offered devices"
    )
    rollback_on_halt: bool = Field(
        default=False, description="On halt, offer updated and failed devices their previous model"
    )
    approval: bool = Field(default=False, description="Wait for approve between phases")
    shadow_images: int = Field(default=20, ge=0, le=MAX_SHADOW_IMAGES)
    shadow_max_s: float = Field(default=3600, ge=0, le=MAX_SECONDS)
    limits: GateLimits = Field(default_factory=GateLimits)
    timeout_s: float | None = Field(
        default=None, gt=0, le=MAX_SECONDS,
        description="Override every state's timeout (short ones for tests)"
    )

    @model_validator(mode="after")
    def _phases(self) -> RolloutCreate:
        p = self.phases
        rising = all(a < b for a, b in itertools.pairwise(p))
        if any(not 0 < x <= 100 for x in p) or not rising or p[-1] != 100:
            raise ValueError("phases must rise strictly within 1-100 and end at 100, "
                             f"for example [5, 25, 100]; got {p}")
        if self.max_failures is not None and self.max_failure_pct is not None:
            raise ValueError("give max_failures or max_failure_pct, not both")
        return self


class RolloutDevicePublic(BaseModel):
    device_id: str
    phase: int = Field(description="0-based phase the device belongs to")
    state: str
    reason: str | None
    online: bool
    takes_offers: bool | None = Field(
        default=None, description="False: its last status says it does not take model offers "
        "(no [updates] in its agent config), so it will never answer this one; None: unknown")
    bytes_done: int | None
    bytes_total: int | None
    gate: GateFigures | None
    previous: dict[str, Any] | None = Field(description="What it ran when the rollout began")
    active: dict[str, Any] | None = Field(description="What it reported running last")
    rollback: bool
    state_since: datetime


class PhasePublic(BaseModel):
    index: int
    percent: int
    devices: int
    state: Literal["waiting", "offered", "done"]
    active: int
    failed: int
    in_progress: int


class RolloutEventPublic(BaseModel):
    ts: datetime
    actor: str
    action: str
    detail: str


class RolloutPublic(BaseModel):
    id: int
    model: str
    version: str
    state: Literal["running", "paused", "halted", "completed", "aborted"]
    reason: str | None
    phase: int
    awaiting_approval: bool
    created_by: str
    created_at: datetime
    updated_at: datetime
    counts: dict[str, int] = Field(description="Devices per state")


class RolloutDetail(RolloutPublic):
    targets: dict[str, Any]
    phases: list[PhasePublic]
    min_devices: int
    max_failures: int | None
    max_failure_pct: float | None
    rollback_on_halt: bool
    approval: bool
    shadow_images: int
    shadow_max_s: float
    limits: GateLimits
    timeout_s: float | None
    devices: list[RolloutDevicePublic]
    events: list[RolloutEventPublic]


class RolloutAction(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str = Field(default="", max_length=512, description="Why, for the record")
