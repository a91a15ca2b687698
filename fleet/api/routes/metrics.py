"""``GET /metrics``: Prometheus text format (needs a token like every other route)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse
from sqlalchemy import func
from sqlmodel import select

from fleet import queries
from fleet.api.deps import CurrentToken, MetricsDep, SessionDep, SettingsDep
from fleet.models import Device

router = APIRouter(tags=["metrics"])


@router.get(
    "/metrics",
    response_class=PlainTextResponse,
    summary="Ingestion counters, devices online and ingest latency (Prometheus text format)",
)
def metrics(
    request: Request, session: SessionDep, settings: SettingsDep, metrics: MetricsDep,
    _: CurrentToken,
) -> str:
    online = queries.count_online(session, settings.offline_after_s)
    known = session.exec(select(func.count()).select_from(Device)).one()
    ingestor = request.app.state.ingestor
    depth = ingestor.queue_depth if ingestor is not None else 0
    text = metrics.render(devices_online=online, devices_known=known, queue_depth=depth)
    return text + request.app.state.downloads.render()
