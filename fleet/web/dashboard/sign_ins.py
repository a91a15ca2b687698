"""``/sign-ins``: the failed and held sign-ins on the accounts of the farm in view, for its
admin (the same list as ``GET /api/v1/farms/{farm_id}/sign-in-attempts``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response

from agrifleet.fleet.web.api.deps import SessionDep
from agrifleet.fleet.web.api.params import TimeWindow
from agrifleet.fleet.web.api.routes.sign_ins import failed_sign_ins
from agrifleet.fleet.web.dashboard.pages import Who
from agrifleet.fleet.web.dashboard.render import page

router = APIRouter(include_in_schema=False)

#: How far back the page looks, and how many attempts it shows at most.
DAYS = 7
SHOWN = 200


@router.get("/sign-ins")
def sign_ins_page(request: Request, who: Who, db: SessionDep) -> Response:
    if who.role != "admin":
        raise HTTPException(404, "not found")
    window = TimeWindow(since=datetime.now(UTC) - timedelta(days=DAYS), until=None)
    attempts = failed_sign_ins(db, who.farm_id, window, SHOWN, 0)
    return page(request, "sign_ins.html", who, attempts=attempts, days=DAYS)
