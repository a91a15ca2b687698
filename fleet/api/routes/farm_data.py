"""``/api/v1/farms/{id}/export`` and ``/erase``: a farm's admin takes the farm's data away in
one ZIP, or has it erased."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from fleet import audit
from fleet.api.deps import AddressDep, CallerDep, SessionDep, SettingsDep
from fleet.api.params import Window
from fleet.api.routes.farms import NOT_FOUND, FarmId, require_role, visible_farm
from fleet.farmdata.export import export_chunks

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
