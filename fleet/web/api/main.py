"""The ``/api/v1`` router: every route needs a caller (a token or a session, see
:func:`fleet.web.api.deps.get_caller`); each route checks the role it needs in which farm."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from agrifleet.fleet.web.api.deps import get_caller, read_csrf_form_field, refuse_unknown_query
from agrifleet.fleet.web.api.errors import AUTH_RESPONSES
from agrifleet.fleet.web.api.routes import (
    advice,
    alerts,
    audit,
    auth,
    deliveries,
    detections,
    devices,
    enrolment,
    events,
    farm_data,
    farm_exports,
    farms,
    fields,
    invitations,
    memberships,
    observations,
    readings,
    registry,
    risk,
    rollouts,
    sign_ins,
    tokens,
    users,
    verdicts,
    webhooks,
)

api_router = APIRouter(
    dependencies=[Depends(read_csrf_form_field), Depends(get_caller),
                  Depends(refuse_unknown_query)],
    responses=AUTH_RESPONSES,
)
api_router.include_router(devices.router)
api_router.include_router(readings.router)
api_router.include_router(events.router)
api_router.include_router(detections.router)
api_router.include_router(registry.router)
api_router.include_router(rollouts.router)
api_router.include_router(auth.router)
api_router.include_router(farms.router)
api_router.include_router(farm_data.router)
api_router.include_router(farm_exports.router)
api_router.include_router(fields.router)
api_router.include_router(users.router)
api_router.include_router(memberships.router)
api_router.include_router(invitations.farm_router)
api_router.include_router(invitations.router)
api_router.include_router(sign_ins.router)
api_router.include_router(tokens.router)
api_router.include_router(audit.router)
api_router.include_router(enrolment.router)
api_router.include_router(alerts.router)
api_router.include_router(alerts.rules_router)
api_router.include_router(verdicts.router)
api_router.include_router(observations.router)
api_router.include_router(advice.router)
api_router.include_router(risk.router)
api_router.include_router(webhooks.router)
api_router.include_router(deliveries.router)
