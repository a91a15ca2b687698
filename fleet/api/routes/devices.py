"""``/api/v1/devices``: register devices, list them, see one with its state and gaps."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Response, status

from fleet import queries
from fleet.api.deps import AdminToken, DeviceDep, SessionDep, SettingsDep
from fleet.api.errors import too_large
from fleet.api.params import MAX_BODY_BYTES, Limit, Offset
from fleet.api.plain import as_json
from fleet.models import (
    BootGaps,
    Device,
    DeviceCreate,
    DeviceDetail,
    DevicePublic,
    DeviceUpdate,
    Message,
)

router = APIRouter(prefix="/devices", tags=["devices"])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=DevicePublic,
    responses={
        409: {"model": Message, "description": "The id is already registered"},
        **too_large(MAX_BODY_BYTES),
    },
    summary="Register a device so the fleet accepts its messages (admin)",
    max_body_size=MAX_BODY_BYTES,
)
def register_device(body: DeviceCreate, session: SessionDep, _: AdminToken) -> Device:
    if session.get(Device, body.id) is not None:
        raise HTTPException(status.HTTP_409_CONFLICT, f"device {body.id!r} already exists")
    device = Device(id=body.id, name=body.name, tags=sorted(set(body.tags)))
    session.add(device)
    session.commit()
    session.refresh(device)
    return device


@router.get("", response_model=list[DevicePublic], summary="All registered devices, by id")
def list_devices(
    session: SessionDep,
    settings: SettingsDep,
    limit: Limit = 1000,
    offset: Offset = 0,
) -> Response:
    return as_json(queries.list_devices(session, limit, offset, settings.offline_after_s))


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
    summary="Change a device's name or tags (admin)",
    max_body_size=MAX_BODY_BYTES,
)
def update_device(_: AdminToken, body: DeviceUpdate, device: DeviceDep,
                  session: SessionDep) -> Device:
    if body.name is not None:
        device.name = body.name
    if body.tags is not None:
        device.tags = sorted(set(body.tags))
    session.add(device)
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
