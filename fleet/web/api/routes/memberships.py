"""``/api/v1/memberships``: who has which role in which farm. Admins of a farm add, change and
remove its members; a member may leave. A farm keeps at least one admin user once it has one.

A farm admin adds directly only people they already manage (admin of every farm the person is
in); anyone else is invited (``POST /api/v1/farms/{farm_id}/invitations``) and accepts. A fleet
admin (a service admin token, or an admin of every farm) adds anyone. Other people's ids answer
404 exactly as unknown ids do, so ids cannot be enumerated."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Response, status
from sqlmodel import col, select

from agrifleet.fleet.people import audit
from agrifleet.fleet.people.auth.principal import Principal
from agrifleet.fleet.people.farms import admins_left, is_fleet_admin, manages_user
from agrifleet.fleet.people.tables import (
    Membership,
    MembershipCreate,
    MembershipPublic,
    MembershipUpdate,
    User,
)
from agrifleet.fleet.web.api.deps import AddressDep, AdminToken, CallerDep, SessionDep
from agrifleet.fleet.web.api.errors import Message, Responses, too_large
from agrifleet.fleet.web.api.params import MAX_BODY_BYTES
from agrifleet.fleet.web.api.routes.farms import FarmId, require_role, visible_farm

router = APIRouter(prefix="/memberships", tags=["memberships"])

UserId = Annotated[int, Path(ge=1, le=2**31 - 1, description="User id")]
NOT_FOUND: Responses = {404: {"model": Message, "description": "No such membership, user or "
                              "farm among the caller's"}}
LAST_ADMIN: Responses = {409: {"model": Message, "description": "Exists already, or it is the "
                               "farm's last admin"}}


def _get(session: SessionDep, caller: Principal, user_id: int, farm_id: int) -> Membership:
    found = session.get(Membership, (user_id, farm_id))
    own = caller.user is not None and caller.user.id == user_id
    if found is None or (not own and not caller.may("admin", farm_id)):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no membership of user {user_id} in "
                            f"farm {farm_id}")
    return found


def _keep_an_admin(session: SessionDep, m: Membership) -> None:
    if m.role == "admin" and admins_left(session, m.farm_id, m.user_id) == 0:
        raise HTTPException(status.HTTP_409_CONFLICT, f"user {m.user_id} is the last admin of "
                            f"farm {m.farm_id}: make someone else admin first")


@router.get("", summary="Memberships of the farms the caller administers, and the caller's own")
def list_memberships(session: SessionDep, caller: CallerDep) -> list[MembershipPublic]:
    query = select(Membership)
    if caller.kind == "service":
        if caller.service_role != "admin":
            raise HTTPException(status.HTTP_403_FORBIDDEN, "needs the admin role")
    else:
        admin_of = caller.farms_with("admin") or set()
        own = caller.user.id if caller.user is not None else -1
        query = query.where(col(Membership.farm_id).in_(admin_of)
                            | (col(Membership.user_id) == own))
    rows = session.exec(query.order_by(col(Membership.farm_id), col(Membership.user_id)))
    return [MembershipPublic.model_validate(m) for m in rows]


@router.post("", status_code=status.HTTP_201_CREATED,
             responses={**NOT_FOUND, **LAST_ADMIN, **too_large(MAX_BODY_BYTES)},
             summary="Give a person the caller manages a role in a farm (admin of it; a fleet "
             "admin: anyone); invite anyone else", max_body_size=MAX_BODY_BYTES)
def create_membership(body: MembershipCreate, session: SessionDep, caller: AdminToken,
                      address: AddressDep) -> MembershipPublic:
    visible_farm(session, caller, body.farm_id)
    require_role(caller, "admin", body.farm_id)
    user = session.get(User, body.user_id)
    if user is None or not (is_fleet_admin(session, caller)
                            or manages_user(session, caller, body.user_id)):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"unknown user {body.user_id} (to add "
                            f"someone from outside your farms, invite them: POST "
                            f"/api/v1/farms/{body.farm_id}/invitations)")
    if session.get(Membership, (body.user_id, body.farm_id)) is not None:
        raise HTTPException(status.HTTP_409_CONFLICT, f"user {body.user_id} is already a "
                            f"member of farm {body.farm_id}: change the role with PATCH")
    m = Membership(user_id=body.user_id, farm_id=body.farm_id, role=body.role)
    session.add(m)
    audit.record(session, caller, "membership.create", f"{user.email} in farm {body.farm_id}",
                 address, role=body.role)
    session.commit()
    session.refresh(m)
    return MembershipPublic.model_validate(m)


@router.patch("/{user_id}/{farm_id}",
              responses={**NOT_FOUND, **LAST_ADMIN, **too_large(MAX_BODY_BYTES)},
              summary="Change a member's role (admin of the farm)", max_body_size=MAX_BODY_BYTES)
def update_membership(caller: AdminToken, user_id: UserId, farm_id: FarmId,
                      body: MembershipUpdate, session: SessionDep,
                      address: AddressDep) -> MembershipPublic:
    m = _get(session, caller, user_id, farm_id)
    require_role(caller, "admin", farm_id)
    if body.role != "admin":
        _keep_an_admin(session, m)
    before, m.role = m.role, body.role
    session.add(m)
    audit.record(session, caller, "membership.update", f"user {user_id} in farm {farm_id}",
                 address, role=body.role, was=before)
    session.commit()
    session.refresh(m)
    return MembershipPublic.model_validate(m)


@router.delete("/{user_id}/{farm_id}", status_code=status.HTTP_204_NO_CONTENT,
               response_class=Response, responses={**NOT_FOUND, **LAST_ADMIN},
               summary="Remove a member from a farm (admin of it, or the member leaving)")
def delete_membership(user_id: UserId, farm_id: FarmId, session: SessionDep,
                      caller: CallerDep, address: AddressDep) -> Response:
    m = _get(session, caller, user_id, farm_id)
    _keep_an_admin(session, m)
    session.delete(m)
    audit.record(session, caller, "membership.delete", f"user {user_id} in farm {farm_id}",
                 address, role=m.role)
    session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
