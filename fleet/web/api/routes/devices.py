"""``/api/v1/devices``: register devices, list them, see one with its state and gaps.

A device belongs to one farm (the default farm when the request names none) and optionally
one of its fields; registering and changing one needs the technician role in its farm.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import APIRouter, HTTPException, Response, status

from agrifleet.fleet.devices.tables import (
    DEFAULT_FARM_ID,
    Device,
    DeviceCreate,
    DevicePublic,
    DeviceUpdate,
)
from agrifleet.fleet.people import audit
from agrifleet.fleet.people.tables import Farm, Field_
from agrifleet.fleet.telemetry import queries
from agrifleet.fleet.telemetry.tables import BootGaps, DeviceDetail
from agrifleet.fleet.web.api.deps import (
    AddressDep,
    CallerDep,
    DeviceDep,
    SessionDep,
    SettingsDep,
    TechnicianToken,
)
from agrifleet.fleet.web.api.errors import Message, too_large
from agrifleet.fleet.web.api.params import MAX_BODY_BYTES, Limit, Offset
from agrifleet.fleet.web.api.plain import as_json

if TYPE_CHECKING:
    from agrifleet.fleet.people.auth.principal import Principal

router = APIRouter(prefix="/devices", tags=["devices"])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=DevicePublic,
    responses={
        404: {"model": Message, "description": "No such farm or field (of the caller's)"},
        409: {"model": Message, "description": "The id is taken: device ids are unique across "
              "the fleet (the answer is the same whichever farm holds it)"},
        **too_large(MAX_BODY_BYTES),
    },
    summary="Register a device in a farm so the fleet accepts its messages (technician)",
    max_body_size=MAX_BODY_BYTES,
)
def register_device(caller: TechnicianToken, body: DeviceCreate, session: SessionDep,
                    address: AddressDep) -> Device:
    farm_id = body.farm_id if body.farm_id is not None else DEFAULT_FARM_ID
    _require_technician(session, caller, farm_id, named=body.farm_id is not None)
    field_id = _check_field(session, farm_id, body.field_id)
    if session.get(Device, body.id) is not None:  # in this farm or another: the same answer
        raise HTTPException(status.HTTP_409_CONFLICT, id_taken(body.id))
    device = Device(id=body.id, name=body.name, tags=sorted(set(body.tags)), farm_id=farm_id,
                    field_id=field_id)
    session.add(device)
    audit.record(session, caller, "device.create", body.id, address, farm_id=farm_id,
                 field_id=field_id, name=body.name, tags=device.tags)
    session.commit()
    session.refresh(device)
    return device


def id_taken(device_id: str) -> str:
    """The one refusal for a taken device id: it says nothing of the farm, device or state."""
    return (f"device id {device_id!r} is taken: device ids are unique across the fleet, "
            "choose another (e.g. with your farm's prefix)")


@router.get("", response_model=list[DevicePublic], summary="All registered devices, by id")
def list_devices(
    session: SessionDep,
    settings: SettingsDep,
    caller: CallerDep,
    limit: Limit = 1000,
    offset: Offset = 0,
) -> Response:
    return as_json(queries.list_devices(session, limit, offset, settings.offline_after_s,
                                        caller.farm_ids))


@router.get(
    "/{device_id}",
    responses={404: {"model": Message}},
    summary="One device: last seen, online state, position, latest readings, health, gaps",
)
def get_device(device: DeviceDep, session: SessionDep, settings: SettingsDep) -> DeviceDetail:
    return queries.device_detail(session, device, settings.offline_after_s)


@router.patch(
    "/{device_id}",
    response_model=DevicePublic,
    responses={
        404: {"model": Message, "description": "No such device"},
        **too_large(MAX_BODY_BYTES),
    },
    summary="Change a device's name, tags or field (technician of its farm)",
    max_body_size=MAX_BODY_BYTES,
)
def update_device(caller: TechnicianToken, body: DeviceUpdate, device: DeviceDep,
                  session: SessionDep, address: AddressDep) -> Device:
    _require_technician(session, caller, device.farm_id, named=True)
    if body.field_id is not None:
        device.field_id = _check_field(session, device.farm_id, body.field_id or None)
    if body.name is not None:
        device.name = body.name
    if body.tags is not None:
        device.tags = sorted(set(body.tags))
    session.add(device)
    audit.record(session, caller, "device.update", device.id, address,
                 **body.model_dump(exclude_unset=True))
    session.commit()
    session.refresh(device)
    return device


@router.get(
    "/{device_id}/gaps",
    responses={404: {"model": Message}},
    summary="Per boot: items received and the sequence numbers that never arrived",
)
def get_gaps(device: DeviceDep, session: SessionDep) -> list[BootGaps]:
    return queries.boot_gaps(session, device.id)


def _require_technician(session: SessionDep, caller: Principal, farm_id: int,
                        named: bool) -> None:
    """404 for a farm the caller does not see, 403 below technician there; a user who names
    no farm must be a technician of the default farm (one who is a technician nowhere was
    refused by the TechnicianToken dependency already)."""
    if caller.role_in(farm_id) is None or session.get(Farm, farm_id) is None:
        if not named and caller.kind == "user":
            raise HTTPException(status.HTTP_403_FORBIDDEN, "name the farm_id of a farm where "
                                "you are a technician: you are not a member of the default farm")
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"unknown farm {farm_id}")
    if not caller.may("technician", farm_id):
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"needs the technician role in farm "
                            f"{farm_id} (caller is {caller.role_in(farm_id)})")


def _check_field(session: SessionDep, farm_id: int, field_id: int | None) -> int | None:
    """The field id when it is a field of the farm; else 404."""
    if field_id is None:
        return None
    found = session.get(Field_, field_id)
    if found is None or found.farm_id != farm_id:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"farm {farm_id} has no field {field_id}")
    return field_id
