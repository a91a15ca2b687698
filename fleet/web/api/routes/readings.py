"""``/api/v1/devices/{id}/readings``: raw readings, or min/mean/max per time bucket."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from agrifleet.fleet.telemetry import queries
from agrifleet.fleet.telemetry.tables import ReadingBucket, ReadingPublic
from agrifleet.fleet.web.api.deps import DeviceDep, SessionDep
from agrifleet.fleet.web.api.errors import Message
from agrifleet.fleet.web.api.params import MAX_BUCKET_S, Limit, Window, name_query
from agrifleet.fleet.web.api.plain import as_json

router = APIRouter(prefix="/devices", tags=["readings"])


@router.get(
    "/{device_id}/readings",
    response_model=list[ReadingPublic] | list[ReadingBucket],
    responses={404: {"model": Message}},
    summary="A device's readings; with bucket=S, min/mean/max per S-second bucket for charts",
)
def get_readings(
    device: DeviceDep,
    session: SessionDep,
    window: Window,
    sensor: Annotated[str | None, name_query(64, "Sensor name")] = None,
    quantity: Annotated[str | None, name_query(64, "Quantity, e.g. moisture")] = None,
    limit: Limit = 1000,
    order: Annotated[
        queries.Order, Query(description="By device time; buckets are always oldest first")
    ] = "desc",
    bucket: Annotated[
        int | None,
        Query(ge=1, le=MAX_BUCKET_S, description="Downsample into buckets of this many seconds"),
    ] = None,
) -> Response:
    since, until = window.since, window.until
    if bucket is not None:
        return as_json(queries.reading_buckets(
            session, device.id, sensor, quantity, since, until, limit, bucket
        ))  # fmt: skip
    return as_json(
        queries.readings(session, device.id, sensor, quantity, since, until, limit, order)
    )
