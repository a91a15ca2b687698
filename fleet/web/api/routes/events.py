"""``/api/v1/devices/{id}/events``: what the device reported people should know."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from agrifleet.fleet.telemetry import queries
from agrifleet.fleet.telemetry.tables import EventPublic
from agrifleet.fleet.web.api.deps import DeviceDep, SessionDep
from agrifleet.fleet.web.api.errors import Message
from agrifleet.fleet.web.api.params import Limit, Window

router = APIRouter(prefix="/devices", tags=["events"])


@router.get(
    "/{device_id}/events",
    responses={404: {"model": Message}},
    summary="A device's events (sensor failures, alerts), newest first",
)
def get_events(
    device: DeviceDep,
    session: SessionDep,
    window: Window,
    severity: Annotated[
        Literal["info", "warning", "alert"] | None, Query(description="Only this severity")
    ] = None,
    limit: Limit = 1000,
) -> list[EventPublic]:
    return queries.events(session, device.id, severity, window.since, window.until, limit)
