"""Alert tables: the rules people set, and the alerts the evaluator opens from them.

Alerts of the field kinds (``risk``, ``disease_spread``) are about a field: their ``device_id``
is "" and ``field_id`` and ``farm_id`` name the field. An alert carries a machine ``code`` and
its ``params``, never English-only text: the dashboard
translates from the code. While an alert is open (active or acknowledged) its ``open_key``
(rule, device, condition) is set and unique, so the database itself holds one open alert per
condition; a cleared alert's ``open_key`` is NULL.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from sqlalchemy import JSON, BigInteger, Index, false
from sqlmodel import Field, SQLModel

from agrifleet.fleet.columns import BigId, UtcDateTime, utcnow

AlertKind = Literal["disease", "reading_range", "offline", "backlog", "risk", "disease_spread"]
AlertState = Literal["active", "acknowledged", "cleared"]
OPEN_STATES: tuple[str, ...] = ("active", "acknowledged")

#: The machine code of each kind's alert, which the dashboard translates.
CODES: dict[str, str] = {
    "disease": "disease_detected",
    "reading_range": "reading_out_of_range",
    "offline": "node_offline",
    "backlog": "outbox_backlog",
    "risk": "disease_risk",
    "disease_spread": "disease_spreading",
}
#: Kinds whose alerts are about a field, not one device (their alert's device_id is "").
FIELD_KINDS = ("risk", "disease_spread")
#: Why an alert was cleared.
ClearReason = Literal["condition_gone", "quiet_period", "by_hand", "rule_changed"]


class AlertRule(SQLModel, table=True):
    """One rule; which fields matter depends on ``kind`` (see :mod:`fleet.alerts.rules`)."""

    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    name: str = Field(default="", max_length=128)
    kind: str = Field(max_length=16)
    enabled: bool = Field(default=True)
    farm_id: int | None = Field(default=None, sa_type=BigInteger)
    device_id: str | None = Field(default=None, max_length=64)
    label: str | None = Field(default=None, max_length=128)
    min_confidence: float | None = None
    quiet_s: float | None = None
    sensor: str | None = Field(default=None, max_length=64)
    quantity: str | None = Field(default=None, max_length=64)
    min_value: float | None = None
    max_value: float | None = None
    for_s: float | None = None
    max_backlog: int | None = Field(default=None, sa_type=BigInteger)
    field_id: int | None = Field(default=None, sa_type=BigInteger)
    model: str | None = Field(default=None, max_length=32)
    min_risk: str | None = Field(default=None, max_length=16)
    min_nodes: int | None = None
    window_s: float | None = None
    critical: bool = Field(default=False, sa_column_kwargs={"server_default": false()},
                           description="Its alerts reach people in their quiet hours")
    last_detection_id: int = Field(default=0, sa_type=BigInteger,
                                   description="Disease rules: detections up to here are read")
    created_by: str = Field(max_length=160)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)


class Alert(SQLModel, table=True):
    __table_args__ = (
        Index("ix_alert_state_last_seen", "state", "last_seen"),
        Index("ix_alert_device", "device_id", "id"),
    )
    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    rule_id: int = Field(sa_type=BigInteger, description="The rule (kept if it is deleted)")
    kind: str = Field(max_length=16)
    code: str = Field(max_length=64)
    params: dict[str, Any] = Field(sa_type=JSON)
    device_id: str = Field(max_length=64)
    farm_id: int | None = Field(default=None, sa_type=BigInteger)
    field_id: int | None = Field(default=None, sa_type=BigInteger)
    condition: str = Field(max_length=200, description="What is wrong, for one rule and device")
    open_key: str | None = Field(default=None, max_length=300, unique=True)
    state: str = Field(max_length=16)
    count: int = Field(default=1, sa_type=BigInteger)
    first_seen: datetime = Field(sa_type=UtcDateTime)
    last_seen: datetime = Field(sa_type=UtcDateTime)
    acknowledged_by: str | None = Field(default=None, max_length=160)
    acknowledged_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    cleared_by: str | None = Field(default=None, max_length=160)
    cleared_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    cleared_reason: str | None = Field(default=None, max_length=32)
