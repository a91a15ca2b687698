"""The ``/api/v1`` router: every route needs a token; writes need the admin role."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from fleet.api.deps import get_current_token, refuse_unknown_query
from fleet.api.errors import AUTH_RESPONSES
from fleet.api.routes import detections, devices, events, models, readings, rollouts

api_router = APIRouter(
    dependencies=[Depends(get_current_token), Depends(refuse_unknown_query)],
    responses=AUTH_RESPONSES,
)
api_router.include_router(devices.router)
api_router.include_router(readings.router)
api_router.include_router(events.router)
api_router.include_router(detections.router)
api_router.include_router(models.router)
api_router.include_router(rollouts.router)

from fleet.api.routes import advice, alerts, observations, verdicts  # noqa: E402 - dashboard API

api_router.include_router(alerts.router)
api_router.include_router(alerts.rules_router)
api_router.include_router(verdicts.router)
api_router.include_router(observations.router)
api_router.include_router(advice.router)
