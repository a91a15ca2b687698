"""Rollout tables: the rollout, each device's progress in it, and every action taken."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from sqlalchemy import JSON, BigInteger, Index
from sqlmodel import Field, SQLModel

from agrifleet.fleet.columns import BigId, UtcDateTime, utcnow

RolloutState = Literal["running", "paused", "halted", "completed", "aborted"]
#: A device's state in a rollout: ``pending`` (its phase has not started, or its offer was
#: withdrawn before it began) and the node's update states from the contract.
DeviceState = Literal[
    "pending", "offered", "downloading", "verifying", "selftest", "shadow", "active", "failed",
    "rolled_back",
]
IN_PROGRESS: tuple[str, ...] = ("offered", "downloading", "verifying", "selftest", "shadow")
DONE: tuple[str, ...] = ("active", "failed", "rolled_back")


class Rollout(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    model: str = Field(max_length=64)
    version: str = Field(max_length=32)
    package_id: int = Field(sa_type=BigInteger, foreign_key="modelpackage.id")
    targets: dict[str, Any] = Field(sa_type=JSON, description="{devices}, {tag} or {all}")
    phases: list[int] = Field(sa_type=JSON)
    min_devices: int
    max_failures: int | None = None
    max_failure_pct: float | None = None
    rollback_on_halt: bool = False
    approval: bool = False
    shadow_images: int
    shadow_max_s: float
    limits: dict[str, Any] = Field(sa_type=JSON)
    timeout_s: float | None = Field(default=None, description="Override of every state timeout")
    state: str = Field(max_length=16)
    reason: str | None = Field(default=None, max_length=2048)
    phase: int = Field(default=0, description="Index of the phase whose devices have offers")
    awaiting_approval: bool = False
    last_update_id: int = Field(default=0, sa_type=BigInteger)
    created_by: str = Field(max_length=160)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)


class RolloutDevice(SQLModel, table=True):
    rollout_id: int = Field(primary_key=True, sa_type=BigInteger, foreign_key="rollout.id")
    device_id: str = Field(primary_key=True, max_length=64)
    phase: int
    state: str = Field(default="pending", max_length=16)
    reason: str | None = Field(default=None, max_length=1024)
    bytes_done: int | None = Field(default=None, sa_type=BigInteger)
    bytes_total: int | None = Field(default=None, sa_type=BigInteger)
    gate: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    waived: bool = Field(default=False, description="A resume accepted its failure or gate figures")
    previous: dict[str, Any] | None = Field(
        default=None, sa_type=JSON, description="ModelRef the device ran when the rollout began"
    )
    active: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    rollback: bool = Field(default=False, description="It was offered its previous version")
    waited_online_s: float = Field(default=0, description="Time offered while online")
    state_since: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)


class RolloutEvent(SQLModel, table=True):
    __table_args__ = (Index("ix_rolloutevent_rollout", "rollout_id", "id"),)
    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    rollout_id: int = Field(sa_type=BigInteger, foreign_key="rollout.id")
    ts: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    actor: str = Field(max_length=160, description='"name (role)" of a token, or "engine"')
    action: str = Field(max_length=32)
    detail: str = Field(default="", max_length=2048)
