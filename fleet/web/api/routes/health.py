"""``GET /healthz``: liveness for load balancers, the only route without a token."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import text

from agrifleet.fleet.web.api.deps import SessionDep
from agrifleet.fleet.web.api.errors import UNAVAILABLE

router = APIRouter(tags=["health"])


@router.get(
    "/healthz",
    responses=UNAVAILABLE,
    summary="The service is up and its database answers",
)
def healthz(session: SessionDep) -> dict[str, str]:
    session.exec(text("SELECT 1"))  # type: ignore[call-overload]
    return {"status": "ok"}
