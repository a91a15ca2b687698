"""``/api/v1/farms``: the farms the caller belongs to; creating one (admin) makes its creator
its admin; renaming and deleting need the admin role in it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Response, status
from sqlmodel import col, delete, func, select

from agrifleet.fleet.devices.tables import DEFAULT_FARM_ID, Device
from agrifleet.fleet.people import audit
from agrifleet.fleet.people.auth.principal import Principal
from agrifleet.fleet.people.tables import (
    Farm,
    FarmCreate,
    FarmPublic,
    FarmUpdate,
    Field_,
    Membership,
)
from agrifleet.fleet.web.api.deps import AddressDep, AdminToken, CallerDep, SessionDep
from agrifleet.fleet.web.api.errors import Message, Responses, too_large
from agrifleet.fleet.web.api.params import MAX_BODY_BYTES, Limit, Offset

router = APIRouter(prefix="/farms", tags=["farms"])

FarmId = Annotated[int, Path(ge=1, le=2**31 - 1, description="Farm id")]
NOT_FOUND: Responses = {404: {"model": Message, "description": "No such farm among the caller's"}}


def visible_farm(session: SessionDep, caller: Principal, farm_id: int) -> Farm:
    """The farm when the caller has a role in it; else 404 (theirs or not, it is not shown)."""
    farm = session.get(Farm, farm_id)
    if farm is None or caller.role_in(farm_id) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"unknown farm {farm_id}")
    return farm


def require_role(caller: Principal, role: str, farm_id: int) -> None:
    if not caller.may(role, farm_id):
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"needs the {role} role in farm "
                            f"{farm_id} (caller is {caller.role_in(farm_id)})")


@router.get("", summary="The caller's farms (a service token: every farm), by id")
def list_farms(session: SessionDep, caller: CallerDep, limit: Limit = 1000,
               offset: Offset = 0) -> list[FarmPublic]:
    query = select(Farm)
    if caller.farm_ids is not None:
        query = query.where(col(Farm.id).in_(caller.farm_ids))
    rows = session.exec(query.order_by(col(Farm.id)).offset(offset).limit(limit)).all()
    return [FarmPublic.model_validate(f) for f in rows]


@router.post("", status_code=status.HTTP_201_CREATED, responses=too_large(MAX_BODY_BYTES),
             summary="Create a farm; a user creating it becomes its admin (admin)",
             max_body_size=MAX_BODY_BYTES)
def create_farm(body: FarmCreate, session: SessionDep, caller: AdminToken,
                address: AddressDep) -> FarmPublic:
    farm = Farm(name=body.name)
    session.add(farm)
    session.flush()
    if caller.user is not None:
        session.add(Membership(user_id=caller.user.id or 0, farm_id=farm.id or 0, role="admin"))
    audit.record(session, caller, "farm.create", f"farm {farm.id}", address, name=body.name)
    session.commit()
    session.refresh(farm)
    return FarmPublic.model_validate(farm)


@router.get("/{farm_id}", responses=NOT_FOUND, summary="One farm")
def get_farm(farm_id: FarmId, session: SessionDep, caller: CallerDep) -> FarmPublic:
    return FarmPublic.model_validate(visible_farm(session, caller, farm_id))


@router.patch("/{farm_id}", responses={**NOT_FOUND, **too_large(MAX_BODY_BYTES)},
              summary="Rename a farm (admin of it)", max_body_size=MAX_BODY_BYTES)
def update_farm(caller: AdminToken, farm_id: FarmId, body: FarmUpdate, session: SessionDep,
                address: AddressDep) -> FarmPublic:
    farm = visible_farm(session, caller, farm_id)
    require_role(caller, "admin", farm_id)
    if body.name is not None:
        farm.name = body.name
    session.add(farm)
    audit.record(session, caller, "farm.update", f"farm {farm_id}", address,
                 **body.model_dump(exclude_unset=True))
    session.commit()
    session.refresh(farm)
    return FarmPublic.model_validate(farm)


@router.delete(
    "/{farm_id}", status_code=status.HTTP_204_NO_CONTENT, response_class=Response,
    responses={**NOT_FOUND, 409: {"model": Message, "description": "The default farm, or a "
                                  "farm that still has devices or fields"}},
    summary="Delete an empty farm and its memberships (admin of it)",
)
def delete_farm(farm_id: FarmId, session: SessionDep, caller: CallerDep,
                address: AddressDep) -> Response:
    farm = visible_farm(session, caller, farm_id)
    require_role(caller, "admin", farm_id)
    if farm_id == DEFAULT_FARM_ID:
        raise HTTPException(status.HTTP_409_CONFLICT, "the default farm cannot be deleted")
    devices = session.exec(select(func.count()).select_from(Device)
                           .where(col(Device.farm_id) == farm_id)).one()
    fields = session.exec(select(func.count()).select_from(Field_)
                          .where(col(Field_.farm_id) == farm_id)).one()
    if devices or fields:
        raise HTTPException(status.HTTP_409_CONFLICT, f"farm {farm_id} still has {devices} "
                            f"device(s) and {fields} field(s): move or delete them first")
    session.exec(delete(Membership).where(col(Membership.farm_id) == farm_id))
    session.delete(farm)
    audit.record(session, caller, "farm.delete", f"farm {farm_id}", address, name=farm.name)
    session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
