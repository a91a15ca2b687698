"""``/api/v1/farms/{id}/exports``: a farm's export prepared in the background (for a farm with
years of data), its progress, and its download, which a client resumes with a ``Range``
header after a broken connection (see :mod:`fleet.farmdata.export_jobs`)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Path, Request, Response, status
from fastapi.responses import FileResponse
from sqlmodel import SQLModel

from agrifleet.fleet.farmdata import export_jobs
from agrifleet.fleet.farmdata.export_jobs import ExportJob
from agrifleet.fleet.people import audit
from agrifleet.fleet.web.api.deps import AddressDep, CallerDep, SessionDep, SettingsDep
from agrifleet.fleet.web.api.params import Window
from agrifleet.fleet.web.api.routes.farms import NOT_FOUND, FarmId, require_role, visible_farm
from agrifleet.fleet.web.api.routes.rollouts import actor

router = APIRouter(prefix="/farms", tags=["farm data"])

JobId = Annotated[str, Path(pattern=export_jobs.JOB_ID.pattern, max_length=32,
                                description="The export's id")]


class ExportJobPublic(SQLModel):
    id: str
    farm_id: int
    status: Literal["running", "done", "failed"]
    since: datetime | None
    until: datetime | None
    requested_by: str
    started_at: datetime
    updated_at: datetime
    finished_at: datetime | None
    bytes: int
    error: str | None
    download: str | None


def _public(request: Request, job: ExportJob) -> ExportJobPublic:
    link = (str(request.url_for("download_farm_export", farm_id=job.farm_id, job_id=job.id))
            if job.status == "done" else None)
    return ExportJobPublic(**job.model_dump(), download=link)


def _job(session: SessionDep, caller: CallerDep, settings: SettingsDep, farm_id: int,
         job_id: str) -> ExportJob:
    visible_farm(session, caller, farm_id)
    require_role(caller, "admin", farm_id)
    job = export_jobs.read(settings.data_dir, farm_id, job_id)
    if job is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND,
                            f"farm {farm_id} has no export {job_id} (exports are kept "
                            f"{export_jobs.KEEP.total_seconds() / 3600:.0f} hours)")
    return job


@router.post(
    "/{farm_id}/exports", status_code=status.HTTP_202_ACCEPTED, responses=NOT_FOUND,
    summary="Prepare the farm's export in the background; follow its progress, then download "
    "it, resumable (admin of the farm)",
)
def start_farm_export(farm_id: FarmId, window: Window, request: Request, response: Response,
                      session: SessionDep, caller: CallerDep, settings: SettingsDep,
                      address: AddressDep) -> ExportJobPublic:
    visible_farm(session, caller, farm_id)
    require_role(caller, "admin", farm_id)
    job = export_jobs.start(request.app.state.engine, settings.data_dir, farm_id, window.since,
                            window.until, actor(caller))
    audit.record(session, caller, "farm.export", f"farm {farm_id}", address, job=job.id,
                 since=window.since and window.since.isoformat(),
                 until=window.until and window.until.isoformat())
    session.commit()
    response.headers["Location"] = str(request.url_for("get_farm_export", farm_id=farm_id,
                                                       job_id=job.id))
    return _public(request, job)


@router.get("/{farm_id}/exports/{job_id}", responses=NOT_FOUND,
            summary="An export's progress (bytes written) and, when done, its download link "
            "(admin of the farm)")
def get_farm_export(farm_id: FarmId, job_id: JobId, request: Request, session: SessionDep,
                    caller: CallerDep, settings: SettingsDep) -> ExportJobPublic:
    return _public(request, _job(session, caller, settings, farm_id, job_id))


@router.get(
    "/{farm_id}/exports/{job_id}/download", response_class=FileResponse,
    responses={**NOT_FOUND, 200: {"content": {"application/zip": {}}},
               206: {"description": "The part a Range header asked for"},
               409: {"description": "The export is still being written, or failed"}},
    summary="The prepared ZIP; a Range header resumes a broken download (admin of the farm)",
)
def download_farm_export(farm_id: FarmId, job_id: JobId, session: SessionDep,
                         caller: CallerDep, settings: SettingsDep) -> FileResponse:
    job = _job(session, caller, settings, farm_id, job_id)
    if job.status != "done":
        raise HTTPException(status.HTTP_409_CONFLICT,
                            f"export {job_id} is {job.status}"
                            + (f": {job.error}" if job.error else "; ask again later"))
    stamp = job.started_at.strftime("%Y%m%dT%H%M%SZ")
    return FileResponse(export_jobs.zip_path(settings.data_dir, job),
                        media_type="application/zip",
                        filename=f"farm-{farm_id}-{stamp}.zip",
                        headers={"Cache-Control": "no-store"})
