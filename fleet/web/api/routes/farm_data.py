"""``/api/v1/farms/{id}/export``, ``/erase`` and ``/data-policy``: a farm's admin takes the
farm's data away in one ZIP, has it erased, and says how long it is kept and whether its
confirmed photos may train models."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import StreamingResponse
from pydantic import ConfigDict
from sqlmodel import Field, SQLModel

from agrifleet.fleet.columns import utcnow
from agrifleet.fleet.devices.tables import Device
from agrifleet.fleet.farmdata.erase import EraseScope, erase
from agrifleet.fleet.farmdata.export import export_chunks
from agrifleet.fleet.farmdata.policy import defaults_of, public
from agrifleet.fleet.farmdata.tables import DataPolicyPublic, DataPolicyUpdate, FarmDataPolicy
from agrifleet.fleet.people import audit
from agrifleet.fleet.people.tables import Field_
from agrifleet.fleet.web.api.deps import (
    DEVICE_ID,
    AddressDep,
    AdminToken,
    CallerDep,
    SessionDep,
    SettingsDep,
)
from agrifleet.fleet.web.api.errors import too_large, validation_error
from agrifleet.fleet.web.api.params import MAX_BODY_BYTES, Moment, Window
from agrifleet.fleet.web.api.routes.farms import NOT_FOUND, FarmId, require_role, visible_farm
from agrifleet.fleet.web.api.routes.rollouts import actor

router = APIRouter(prefix="/farms", tags=["farm data"])


@router.get(
    "/{farm_id}/export",
    response_class=StreamingResponse,
    responses={**NOT_FOUND, 200: {"content": {"application/zip": {}}, "description":
                                  "The ZIP: CSV (and Parquet) per table, photos, README.md, "
                                  "manifest.json; streamed as it is written"}},
    summary="Everything the fleet holds of the farm, as one ZIP (admin of the farm)",
)
def export_farm(farm_id: FarmId, window: Window, request: Request, session: SessionDep,
                caller: CallerDep,
                settings: SettingsDep, address: AddressDep) -> StreamingResponse:
    visible_farm(session, caller, farm_id)
    require_role(caller, "admin", farm_id)
    audit.record(session, caller, "farm.export", f"farm {farm_id}", address,
                 since=window.since and window.since.isoformat(),
                 until=window.until and window.until.isoformat())
    session.commit()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return StreamingResponse(
        export_chunks(request.app.state.engine, farm_id, settings.data_dir, window.since,
                      window.until),
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="farm-{farm_id}-{stamp}.zip"',
                 "Cache-Control": "no-store"},
    )


class EraseRequest(SQLModel):
    """What to erase; ``confirm`` is the farm's name, typed again."""

    model_config = ConfigDict(extra="forbid")  # type: ignore[assignment]

    confirm: str = Field(max_length=128, description="The farm's name, exactly as it is")
    device_id: str | None = Field(default=None, max_length=64, schema_extra={
        "pattern": DEVICE_ID}, description="Only this device's data")
    field_id: int | None = Field(default=None, ge=1, le=2**31 - 1,
                                 description="Only this field's: its devices' and its "
                                 "scouting photos")
    before: Moment | None = Field(default=None, description="Only what is dated before this "
                                  "time (ISO 8601, UTC if no zone)")


class EraseReceipt(SQLModel):
    farm_id: int
    device_id: str | None
    field_id: int | None
    before: datetime | None
    erased_by: str
    erased_at: datetime
    counts: dict[str, int] = Field(description="Rows (and photo files) erased, by kind")
    audit_id: int = Field(description="The audit log's farm.erase entry")


@router.post(
    "/{farm_id}/erase",
    responses={**NOT_FOUND, **too_large(MAX_BODY_BYTES)},
    max_body_size=MAX_BODY_BYTES,
    summary="Erase a device's, a field's or the whole farm's data, optionally before a time "
    "(admin of the farm; the farm's name typed again)",
)
def erase_farm_data(farm_id: FarmId, body: EraseRequest, request: Request, session: SessionDep,
                    caller: AdminToken, settings: SettingsDep,
                    address: AddressDep) -> EraseReceipt:
    farm = visible_farm(session, caller, farm_id)
    require_role(caller, "admin", farm_id)
    if body.device_id is not None and body.field_id is not None:
        raise validation_error(("body", "field_id"), "name a device or a field, not both",
                               body.field_id)
    if body.confirm != farm.name:
        raise validation_error(("body", "confirm"), "type the farm's name exactly to confirm "
                               "the erasure", body.confirm)
    if body.device_id is not None:
        device = session.get(Device, body.device_id)
        if device is None or device.farm_id != farm_id:
            raise HTTPException(status.HTTP_404_NOT_FOUND,
                                f"farm {farm_id} has no device {body.device_id!r}")
    if body.field_id is not None:
        plot = session.get(Field_, body.field_id)
        if plot is None or plot.farm_id != farm_id:
            raise HTTPException(status.HTTP_404_NOT_FOUND,
                                f"farm {farm_id} has no field {body.field_id}")
    session.close()  # erasing runs its own short transactions
    scope = EraseScope(farm_id, body.device_id, body.field_id, body.before)
    erased, audit_id = erase(request.app.state.engine, settings.data_dir, scope, caller, address)
    return EraseReceipt(farm_id=farm_id, device_id=body.device_id, field_id=body.field_id,
                        before=body.before, erased_by=actor(caller), erased_at=utcnow(),
                        counts=erased.counts, audit_id=audit_id)


@router.get("/{farm_id}/data-policy", responses=NOT_FOUND,
            summary="How long the farm's data is kept, and its consent to training (any role "
            "in the farm)")
def get_data_policy(farm_id: FarmId, session: SessionDep, caller: CallerDep,
                    settings: SettingsDep) -> DataPolicyPublic:
    visible_farm(session, caller, farm_id)
    return public(farm_id, session.get(FarmDataPolicy, farm_id), defaults_of(settings))


@router.patch(
    "/{farm_id}/data-policy", responses={**NOT_FOUND, **too_large(MAX_BODY_BYTES)},
    max_body_size=MAX_BODY_BYTES,
    summary="Set the farm's retention days (null: the fleet's default) or its consent to "
    "training (admin of the farm)",
)
def update_data_policy(farm_id: FarmId, body: DataPolicyUpdate, session: SessionDep,
                       caller: AdminToken, settings: SettingsDep,
                       address: AddressDep) -> DataPolicyPublic:
    visible_farm(session, caller, farm_id)
    require_role(caller, "admin", farm_id)
    row = session.get(FarmDataPolicy, farm_id) or FarmDataPolicy(farm_id=farm_id)
    changes = body.model_dump(exclude_unset=True)
    if changes.get("training_consent", True) is None:
        raise validation_error(("body", "training_consent"), "consent is true or false", None)
    who = actor(caller)
    for name, value in changes.items():
        if name == "training_consent" and value != row.training_consent:
            row.consent_by, row.consent_at = who, utcnow()
        setattr(row, name, value)
    row.updated_by, row.updated_at = who, utcnow()
    session.add(row)
    audit.record(session, caller, "farm.data_policy", f"farm {farm_id}", address, **changes)
    session.commit()
    session.refresh(row)
    return public(farm_id, row, defaults_of(settings))
