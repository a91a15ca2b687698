"""``/api/v1/alerts/{id}/deliveries`` (every message sent or being retried for an alert, with
each attempt) and ``/api/v1/notifications`` (how the signed-in person wants alerts)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, HTTPException, status
from pydantic import ConfigDict, field_validator
from sqlmodel import Field, SQLModel, col, select

from agrifleet.fleet.alerts.delivery.tables import Delivery, NotifySettings
from agrifleet.fleet.people.auth.principal import Principal
from agrifleet.fleet.web.api.deps import CallerDep, SessionDep
from agrifleet.fleet.web.api.errors import Message, validation_error
from agrifleet.fleet.web.api.routes.alerts import AlertId, _alert

router = APIRouter(tags=["alerts"])
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": Message, "description": "No such alert"}}
NO_PERSON: dict[int | str, dict[str, Any]] = {
    404: {"model": Message, "description": "A service token: no person signed in"}}
HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


class DeliveryPublic(SQLModel):
    id: int
    alert_id: int
    state: str = Field(description="The alert state it announces: active or cleared")
    channel: str = Field(description="webhook or email")
    target: str = Field(description="The webhook's id, or the person's user id")
    language: str
    status: str = Field(description="pending (being retried), sent or failed")
    attempts: list[dict[str, Any]] = Field(description="[{at, ok, detail}, …]")
    next_attempt_at: datetime
    created_at: datetime
    sent_at: datetime | None


class NotificationSettings(SQLModel):
    model_config = ConfigDict(extra="forbid")  # type: ignore[assignment]

    email: bool = Field(default=True, description="E-mail me my farms' alerts")
    quiet_start: str | None = Field(default=None, description="Quiet hours from HH:MM (local)")
    quiet_end: str | None = Field(default=None, description="Quiet hours until HH:MM (local)")
    timezone: str = Field(default="UTC", max_length=64, description="e.g. Asia/Ho_Chi_Minh")

    @field_validator("quiet_start", "quiet_end")
    @classmethod
    def _hhmm(cls, value: str | None) -> str | None:
        if value is not None and not HHMM.match(value):
            raise ValueError("must be HH:MM, 00:00 to 23:59")
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value


@router.get("/alerts/{alert_id}/deliveries", responses=NOT_FOUND,
            summary="Messages of an alert and their attempts")
def list_deliveries(alert_id: AlertId, session: SessionDep,
                    caller: CallerDep) -> list[DeliveryPublic]:
    _alert(session, alert_id, caller)
    rows = session.exec(select(Delivery).where(col(Delivery.alert_id) == alert_id)
                        .order_by(col(Delivery.id))).all()
    return [DeliveryPublic.model_validate(d) for d in rows]


def _user_id(caller: Principal) -> int:
    """The signed-in person's id; a service token has no person: 404, as for /users/{id}."""
    if caller.user is None or caller.user.id is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND,
                            "no person signed in: notification settings belong to a person")
    return caller.user.id


@router.get("/notifications", responses=NO_PERSON, summary="How the signed-in person gets alerts")
def get_notifications(session: SessionDep, caller: CallerDep) -> NotificationSettings:
    row = session.get(NotifySettings, _user_id(caller))
    if row is None:
        return NotificationSettings()
    return NotificationSettings(email=row.email, quiet_start=row.quiet_start,
                                quiet_end=row.quiet_end, timezone=row.timezone)


@router.put("/notifications", responses=NO_PERSON,
            summary="Set how the signed-in person gets alerts")
def put_notifications(body: NotificationSettings, session: SessionDep,
                      caller: CallerDep) -> NotificationSettings:
    user_id = _user_id(caller)
    if (body.quiet_start is None) != (body.quiet_end is None):
        raise validation_error(("body", "quiet_end"),
                               "give quiet_start and quiet_end together, or neither",
                               body.quiet_end)
    row = session.get(NotifySettings, user_id) or NotifySettings(user_id=user_id)
    row.email, row.quiet_start, row.quiet_end = body.email, body.quiet_start, body.quiet_end
    row.timezone, row.updated_at = body.timezone, datetime.now(UTC)
    session.add(row)
    session.commit()
    return body
