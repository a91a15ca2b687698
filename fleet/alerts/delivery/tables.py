"""Delivery tables: farms' webhooks, people's e-mail settings, and the delivery queue.

A delivery is one message to one recipient for one alert state change; the unique
(alert, state, channel, target) key makes a second one for the same change impossible, and
the row stays (pending, sent or failed, with every attempt) so nothing is lost across a
restart and every attempt is visible.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from agrifleet.fleet.columns import BigId, UtcDateTime, utcnow


class Webhook(SQLModel, table=True):
    """A URL that gets every alert of a farm (or of every farm) as signed JSON."""

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    farm_id: int | None = Field(default=None, sa_type=BigInteger, index=True)
    name: str = Field(default="", max_length=128)
    url: str = Field(max_length=2000)
    secret: str = Field(max_length=128, description="HMAC-SHA256 key; shown once")
    language: str = Field(default="en", max_length=8)
    enabled: bool = Field(default=True)
    created_by: str = Field(max_length=160)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)


class NotifySettings(SQLModel, table=True):
    """How one person wants alerts: e-mail or not, and quiet hours in their time zone."""

    __tablename__ = "notify_settings"

    user_id: int = Field(primary_key=True, foreign_key="user.id")
    email: bool = Field(default=True, description="E-mail me my farms' alerts")
    quiet_start: str | None = Field(default=None, max_length=5, description="HH:MM local")
    quiet_end: str | None = Field(default=None, max_length=5, description="HH:MM local")
    timezone: str = Field(default="UTC", max_length=64)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)


class AlertNotice(SQLModel, table=True):
    """An alert state change whose deliveries were queued (so it is queued only once)."""

    __tablename__ = "alert_notice"

    alert_id: int = Field(primary_key=True, sa_type=BigInteger)
    state: str = Field(primary_key=True, max_length=16)
    queued_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)


class Delivery(SQLModel, table=True):
    """One message for one recipient: pending until sent, or failed after the last attempt."""

    __table_args__ = (
        UniqueConstraint("alert_id", "state", "channel", "target", name="uq_delivery_once"),
        Index("ix_delivery_due", "status", "next_attempt_at"),
    )
    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    alert_id: int = Field(sa_type=BigInteger, index=True)
    state: str = Field(max_length=16, description="The alert state it announces")
    channel: str = Field(max_length=16, description="webhook or email")
    target: str = Field(max_length=64, description="webhook id, or user id")
    language: str = Field(default="en", max_length=8)
    critical: bool = Field(default=False)
    status: str = Field(default="pending", max_length=16, description="pending, sent, failed")
    attempts: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON)
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
