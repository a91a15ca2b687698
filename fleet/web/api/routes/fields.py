"""``/api/v1/farms/{farm_id}/fields``: a farm's fields (name, crop, GeoJSON outline); members
read them, technicians of the farm change them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Response, status
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select, update

from agrifleet.fleet.devices.tables import Device
from agrifleet.fleet.people import audit
from agrifleet.fleet.people.tables import Field_, FieldCreate, FieldPublic, FieldUpdate
from agrifleet.fleet.web.api.deps import AddressDep, CallerDep, SessionDep, TechnicianToken
from agrifleet.fleet.web.api.errors import Message, Responses, too_large
from agrifleet.fleet.web.api.routes.farms import FarmId, require_role, visible_farm

router = APIRouter(prefix="/farms/{farm_id}/fields", tags=["fields"])

FieldId = Annotated[int, Path(ge=1, le=2**31 - 1, description="Field id")]
NOT_FOUND: Responses = {404: {"model": Message,
                              "description": "No such farm (of the caller's) or field"}}
CONFLICT: Responses = {409: {"model": Message,
                             "description": "The farm has a field of that name"}}
#: An outline may have thousands of positions.
MAX_FIELD_BODY = 1024 * 1024


def _field(session: SessionDep, farm_id: int, field_id: int) -> Field_:
    found = session.get(Field_, field_id)
    if found is None or found.farm_id != farm_id:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"farm {farm_id} has no field {field_id}")
    return found


def _commit(session: SessionDep, name: str) -> None:
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise HTTPException(status.HTTP_409_CONFLICT,
                            f"the farm already has a field named {name!r}") from None


@router.get("", responses=NOT_FOUND, summary="The farm's fields, by name")
def list_fields(farm_id: FarmId, session: SessionDep, caller: CallerDep) -> list[FieldPublic]:
    visible_farm(session, caller, farm_id)
    rows = session.exec(select(Field_).where(col(Field_.farm_id) == farm_id)
                        .order_by(col(Field_.name))).all()
    return [FieldPublic.model_validate(f) for f in rows]


@router.post("", status_code=status.HTTP_201_CREATED,
             responses={**NOT_FOUND, **CONFLICT, **too_large(MAX_FIELD_BODY)},
             summary="Add a field to the farm (technician of it)", max_body_size=MAX_FIELD_BODY)
def create_field(caller: TechnicianToken, farm_id: FarmId, body: FieldCreate,
                 session: SessionDep, address: AddressDep) -> FieldPublic:
    visible_farm(session, caller, farm_id)
    require_role(caller, "technician", farm_id)
    row = Field_(farm_id=farm_id, name=body.name, crop=body.crop, outline=body.outline)
    session.add(row)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise HTTPException(status.HTTP_409_CONFLICT,
                            f"the farm already has a field named {body.name!r}") from None
    audit.record(session, caller, "field.create", f"field {row.id}", address, farm_id=farm_id,
                 name=body.name, crop=body.crop)
    _commit(session, body.name)
    session.refresh(row)
    return FieldPublic.model_validate(row)


@router.get("/{field_id}", responses=NOT_FOUND, summary="One field")
def get_field(farm_id: FarmId, field_id: FieldId, session: SessionDep,
              caller: CallerDep) -> FieldPublic:
    visible_farm(session, caller, farm_id)
    return FieldPublic.model_validate(_field(session, farm_id, field_id))


@router.patch("/{field_id}", responses={**NOT_FOUND, **CONFLICT, **too_large(MAX_FIELD_BODY)},
              summary="Change a field (technician of the farm)", max_body_size=MAX_FIELD_BODY)
def update_field(caller: TechnicianToken, farm_id: FarmId, field_id: FieldId,
                 body: FieldUpdate, session: SessionDep, address: AddressDep) -> FieldPublic:
    visible_farm(session, caller, farm_id)
    require_role(caller, "technician", farm_id)
    row = _field(session, farm_id, field_id)
    changes = body.model_dump(exclude_unset=True)
    for key, value in changes.items():
        if key != "outline" and value is None:
            continue
        setattr(row, key, value)
    session.add(row)
    audit.record(session, caller, "field.update", f"field {field_id}", address,
                 farm_id=farm_id, changed=sorted(changes))
    _commit(session, row.name)
    session.refresh(row)
    return FieldPublic.model_validate(row)


@router.delete("/{field_id}", status_code=status.HTTP_204_NO_CONTENT, response_class=Response,
               responses=NOT_FOUND,
               summary="Delete a field; its devices stay in the farm, on no field (technician)")
def delete_field(farm_id: FarmId, field_id: FieldId, session: SessionDep, caller: CallerDep,
                 address: AddressDep) -> Response:
    visible_farm(session, caller, farm_id)
    require_role(caller, "technician", farm_id)
    row = _field(session, farm_id, field_id)
    session.exec(update(Device).where(col(Device.field_id) == field_id)
                 .values(field_id=None))
    session.delete(row)
    audit.record(session, caller, "field.delete", f"field {field_id}", address,
                 farm_id=farm_id, name=row.name)
    session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
