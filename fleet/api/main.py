"""The ``/api/v1`` router: every route needs a token; writes need the admin role."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from fleet.api.deps import get_current_token
from fleet.api.routes import detections, devices, events, models, readings, rollouts

api_router = APIRouter(dependencies=[Depends(get_current_token)])
api_router.include_router(devices.router)
api_router.include_router(readings.router)
api_router.include_router(events.router)
api_router.include_router(detections.router)
api_router.include_router(models.router)
api_router.include_router(rollouts.router)
