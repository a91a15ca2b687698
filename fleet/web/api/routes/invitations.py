"""Invitations: ``/api/v1/farms/{farm_id}/invitations`` (an admin of the farm invites an
e-mail with a role, lists and withdraws invitations) and ``/api/v1/invitations/{token}/accept``
(the invited person, signed in with that e-mail, becomes a member). See
:mod:`fleet.people.invitations`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Response, status
from sqlmodel import col, select

from agrifleet.fleet.columns import utcnow
from agrifleet.fleet.people import audit
from agrifleet.fleet.people.invitations import (
    MAX_INVITATION_LENGTH,
    find_open_invitation,
    new_invitation,
)
from agrifleet.fleet.people.tables import (
    Invitation,
    InvitationCreate,
    InvitationCreated,
    InvitationPublic,
    Membership,
    MembershipPublic,
)
from agrifleet.fleet.web.api.deps import AddressDep, AdminToken, CallerDep, SessionDep
from agrifleet.fleet.web.api.errors import Message, Responses, too_large
from agrifleet.fleet.web.api.params import MAX_BODY_BYTES
from agrifleet.fleet.web.api.routes.farms import FarmId, require_role, visible_farm

farm_router = APIRouter(prefix="/farms", tags=["invitations"])
router = APIRouter(prefix="/invitations", tags=["invitations"])

InvitationId = Annotated[int, Path(ge=1, le=2**63 - 1, description="Invitation id")]
InvitationToken = Annotated[str, Path(max_length=MAX_INVITATION_LENGTH,
                                      pattern=r"^[A-Za-z0-9_-]+$",
                                      description="The invitation's secret (agi_…)")]
NOT_FOUND: Responses = {404: {"model": Message, "description": "No such farm or invitation "
                              "among the caller's"}}
NO_INVITATION: Responses = {404: {"model": Message, "description": "No open invitation with "
                                  "this secret for the caller's e-mail"},
                            409: {"model": Message, "description": "Already a member"}}


@farm_router.post("/{farm_id}/invitations", status_code=status.HTTP_201_CREATED,
                  responses={**NOT_FOUND, **too_large(MAX_BODY_BYTES)},
                  summary="Invite a person (by e-mail) to the farm with a role (admin of it); "
                  "the answer's token is shown only this once", max_body_size=MAX_BODY_BYTES)
def create_invitation(farm_id: FarmId, body: InvitationCreate, session: SessionDep,
                      caller: AdminToken, address: AddressDep) -> InvitationCreated:
    visible_farm(session, caller, farm_id)
    require_role(caller, "admin", farm_id)
    row, secret = new_invitation(farm_id, body, caller.label)
    session.add(row)
    session.flush()
    audit.record(session, caller, "invitation.create", f"{body.email} to farm {farm_id}",
                 address, role=body.role, invitation=row.id)
    session.commit()
    session.refresh(row)
    return InvitationCreated.model_validate(row, update={"token": secret})


@farm_router.get("/{farm_id}/invitations", responses=NOT_FOUND,
                 summary="The farm's invitations, newest first (admin of it)")
def list_invitations(farm_id: FarmId, session: SessionDep,
                     caller: CallerDep) -> list[InvitationPublic]:
    visible_farm(session, caller, farm_id)
    require_role(caller, "admin", farm_id)
    rows = session.exec(select(Invitation).where(col(Invitation.farm_id) == farm_id)
                        .order_by(col(Invitation.id).desc())).all()
    return [InvitationPublic.model_validate(r) for r in rows]


@farm_router.delete("/{farm_id}/invitations/{invitation_id}",
                    status_code=status.HTTP_204_NO_CONTENT, response_class=Response,
                    responses=NOT_FOUND, summary="Withdraw an invitation (admin of the farm)")
def delete_invitation(farm_id: FarmId, invitation_id: InvitationId, session: SessionDep,
                      caller: CallerDep, address: AddressDep) -> Response:
    visible_farm(session, caller, farm_id)
    require_role(caller, "admin", farm_id)
    row = session.get(Invitation, invitation_id)
    if row is None or row.farm_id != farm_id:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"unknown invitation {invitation_id}")
    session.delete(row)
    audit.record(session, caller, "invitation.delete", f"{row.email} to farm {farm_id}",
                 address, invitation=invitation_id)
    session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{token}/accept", status_code=status.HTTP_201_CREATED, responses=NO_INVITATION,
             summary="Accept an invitation: the caller (signed in with the invited e-mail) "
             "becomes a member of its farm with its role")
def accept_invitation(token: InvitationToken, session: SessionDep, caller: CallerDep,
                      address: AddressDep) -> MembershipPublic:
    row = find_open_invitation(session, token)
    if (row is None or caller.user is None or caller.user.id is None
            or caller.user.email != row.email):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no open invitation with this secret "
                            "for your e-mail (it may have expired or been used)")
    if session.get(Membership, (caller.user.id, row.farm_id)) is not None:
        raise HTTPException(status.HTTP_409_CONFLICT, f"you are already a member of farm "
                            f"{row.farm_id}")
    membership = Membership(user_id=caller.user.id, farm_id=row.farm_id, role=row.role)
    row.accepted_at, row.accepted_by = utcnow(), caller.user.id
    session.add(membership)
    session.add(row)
    audit.record(session, caller, "invitation.accept", f"{row.email} in farm {row.farm_id}",
                 address, role=row.role, invitation=row.id)
    session.commit()
    session.refresh(membership)
    return MembershipPublic.model_validate(membership)
