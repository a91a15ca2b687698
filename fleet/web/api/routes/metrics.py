"""``GET /metrics``: Prometheus text format (needs a service token: it covers every farm)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from fastapi.responses import PlainTextResponse
from sqlalchemy import func
from sqlmodel import select

from agrifleet.fleet.devices.tables import Device
from agrifleet.fleet.telemetry import queries
from agrifleet.fleet.web.api.deps import (
    CurrentToken,
    MetricsDep,
    SessionDep,
    SettingsDep,
    refuse_unknown_query,
)
from agrifleet.fleet.web.api.errors import AUTH_RESPONSES

router = APIRouter(
    tags=["metrics"], dependencies=[Depends(refuse_unknown_query)], responses=AUTH_RESPONSES
)


@router.get(
    "/metrics",
    # Response, not PlainTextResponse: errors stay documented as JSON.
    response_class=Response,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}},
                     "description": "Prometheus text exposition format"}},
    summary="Ingestion counters, devices online and ingest latency (Prometheus text format)",
)
def metrics(
    request: Request, session: SessionDep, settings: SettingsDep, metrics: MetricsDep,
    caller: CurrentToken,
) -> PlainTextResponse:
    if caller.farm_ids is not None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "the metrics cover every farm: they need "
                            "a service token (agrifleet fleet create-token)")
    online = queries.count_online(session, settings.offline_after_s)
    known = session.exec(select(func.count()).select_from(Device)).one()
    ingestor = request.app.state.ingestor
    depth = ingestor.queue_depth if ingestor is not None else 0
    text = metrics.render(devices_online=online, devices_known=known, queue_depth=depth)
    return PlainTextResponse(text + request.app.state.downloads.render())
