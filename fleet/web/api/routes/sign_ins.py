"""``GET /api/v1/farms/{farm_id}/sign-in-attempts``: the failed and held sign-ins of the farm's
people, newest first, for the farm's admin (read from the audit log; no password is ever
stored or shown)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter
from sqlmodel import Field, Session, SQLModel, col, select

from agrifleet.fleet.people.tables import AuditEntry, Membership, User
from agrifleet.fleet.web.api.deps import CallerDep, SessionDep
from agrifleet.fleet.web.api.params import Limit, Offset, TimeWindow, Window
from agrifleet.fleet.web.api.routes.farms import NOT_FOUND, FarmId, require_role, visible_farm

router = APIRouter(prefix="/farms", tags=["auth"])

#: The audit actions of a refused sign-in, and how the listing names them.
OUTCOMES: dict[str, Literal["failed", "throttled"]] = {"login_failed": "failed",
                                                       "login_throttled": "throttled"}


class SignInAttempt(SQLModel):
    ts: datetime
    email: str = Field(description="The account it was tried on")
    address: str | None = Field(description="The client's IP (through trusted proxies)")
    outcome: Literal["failed", "throttled"] = Field(
        description="failed: wrong password or inactive account; throttled: refused with 429 "
        "before the password was checked")
    reason: str | None = Field(default=None, description="wrong password, or inactive")
    device: str | None = Field(default=None, description="known: a browser that signed in as "
                               "this person before; new: any other")


def failed_sign_ins(session: Session, farm_id: int, window: TimeWindow, limit: int,
                    offset: int) -> list[SignInAttempt]:
    """The refused sign-ins on the accounts of a farm's members."""
    emails = select(User.email).join(Membership, col(Membership.user_id) == col(User.id)).where(
        col(Membership.farm_id) == farm_id)
    query = select(AuditEntry).where(col(AuditEntry.action).in_(OUTCOMES),
                                     col(AuditEntry.target).in_(emails))
    if window.since is not None:
        query = query.where(col(AuditEntry.ts) >= window.since)
    if window.until is not None:
        query = query.where(col(AuditEntry.ts) < window.until)
    rows = session.exec(query.order_by(col(AuditEntry.ts).desc(), col(AuditEntry.id).desc())
                        .offset(offset).limit(limit)).all()
    return [SignInAttempt(ts=e.ts, email=e.target, address=e.address,
                          outcome=OUTCOMES[e.action], reason=e.details.get("reason"),
                          device=e.details.get("device")) for e in rows]


@router.get("/{farm_id}/sign-in-attempts", responses=NOT_FOUND,
            summary="Failed and held sign-ins on the farm's people's accounts, newest first "
            "(admin of the farm)")
def list_sign_in_attempts(farm_id: FarmId, session: SessionDep, caller: CallerDep,
                          window: Window, limit: Limit = 100,
                          offset: Offset = 0) -> list[SignInAttempt]:
    visible_farm(session, caller, farm_id)
    require_role(caller, "admin", farm_id)
    return failed_sign_ins(session, farm_id, window, limit, offset)
