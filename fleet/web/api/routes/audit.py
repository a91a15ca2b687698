"""``GET /api/v1/audit``: the audit log, newest first, for fleet admins (a service admin token,
or a user who is admin of every farm: entries are about the whole fleet)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, status
from sqlmodel import col, select

from agrifleet.fleet.people.farms import is_fleet_admin
from agrifleet.fleet.people.tables import AuditEntry, AuditEntryPublic
from agrifleet.fleet.web.api.deps import AdminToken, SessionDep
from agrifleet.fleet.web.api.params import Limit, Offset, Window, name_query

router = APIRouter(prefix="/audit", tags=["audit"])


@router.get("", summary="Audit entries (logins, people, tokens, devices, models, rollouts, "
            "enrolments), newest first, filtered (fleet admin)")
def list_audit(
    session: SessionDep,
    caller: AdminToken,
    window: Window,
    actor: Annotated[str | None, name_query(300, "Who: an e-mail or a token's label")] = None,
    action: Annotated[str | None, name_query(64, "e.g. login_failed, device.create")] = None,
    target: Annotated[str | None, name_query(300, "What it was done to")] = None,
    limit: Limit = 100,
    offset: Offset = 0,
    order: Annotated[Literal["asc", "desc"], Query(description="By time")] = "desc",
) -> list[AuditEntryPublic]:
    if not is_fleet_admin(session, caller):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "the audit log covers every farm: it "
                            "needs a service admin token or an admin of every farm")
    query = select(AuditEntry)
    if actor is not None:
        query = query.where(col(AuditEntry.actor) == actor)
    if action is not None:
        query = query.where(col(AuditEntry.action) == action)
    if target is not None:
        query = query.where(col(AuditEntry.target) == target)
    if window.since is not None:
        query = query.where(col(AuditEntry.ts) >= window.since)
    if window.until is not None:
        query = query.where(col(AuditEntry.ts) < window.until)
    ts, ident = col(AuditEntry.ts), col(AuditEntry.id)
    ordered = (ts.asc(), ident.asc()) if order == "asc" else (ts.desc(), ident.desc())
    rows = session.exec(query.order_by(*ordered).offset(offset).limit(limit)).all()
    return [AuditEntryPublic.model_validate(e) for e in rows]
