"""``/api/v1/observations``: scouting photos from the field, classified by the farm's model."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import (
    APIRouter,
    File,
    Form,
    HTTPException,
    Path,
    Query,
    Request,
    Response,
    UploadFile,
    status,
)
from fastapi.responses import FileResponse
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select
from starlette.concurrency import run_in_threadpool

from agrifleet.fleet.devices.tables import DEFAULT_FARM_ID
from agrifleet.fleet.modelops.observations import PhotoStore, public, reencode
from agrifleet.fleet.modelops.scouting import Scout, active_model
from agrifleet.fleet.modelops.tables import Observation, ObservationPublic
from agrifleet.fleet.people.auth.principal import Principal
from agrifleet.fleet.people.tables import Field_
from agrifleet.fleet.settings import FleetSettings
from agrifleet.fleet.web.api.deps import CallerDep, CurrentToken, SessionDep
from agrifleet.fleet.web.api.errors import Message, validation_error
from agrifleet.fleet.web.api.params import MAX_ID, Limit, Moment, Offset, Window, name_query
from agrifleet.fleet.web.api.routes.rollouts import actor
from agrifleet.images import ImageError, ImageTooLarge, UnsupportedImage

router = APIRouter(prefix="/observations", tags=["observations"])

#: The whole multipart body is read at most this far (the photo's own cap is a setting).
MAX_UPLOAD_BODY = 32 * 1024 * 1024 + 64 * 1024
ObservationId = Annotated[int, Path(ge=1, le=MAX_ID, description="Observation id")]
Responses = dict[int | str, dict[str, Any]]
#: The first words of a refused photo's message; the dashboard shows its own translation.
NOT_A_PHOTO = "This file is not a photo the fleet can read:"
TOO_LARGE = "The photo is too large:"
NOT_FOUND: Responses = {404: {"model": Message, "description": "No such observation"}}


def _refused(reason: str, msg: str, loc: tuple[str, ...] = ("body", "photo")) -> Exception:
    return validation_error(loc, f"{reason}: {msg}", None)


def _farm_for(session: Session, caller: Principal, field_id: int | None,
              farm_id: int | None) -> int:
    """The farm an observation is stored in: its field's, else the one named, else the caller's
    only farm (a service token: the default farm); 404 for a field or farm not the caller's."""
    if field_id is not None:
        field = session.get(Field_, field_id)
        if field is None or caller.role_in(field.farm_id) is None or (
                farm_id is not None and farm_id != field.farm_id):
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no field {field_id}")
        return field.farm_id
    if farm_id is not None:
        if caller.role_in(farm_id) is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no farm {farm_id}")
        return farm_id
    farms = caller.farm_ids
    if farms is None:
        return DEFAULT_FARM_ID
    if len(farms) != 1:
        raise validation_error(("body", "farm_id"), "you are in several farms: name the "
                               "field_id or farm_id the photo belongs to", None)
    return next(iter(farms))


def _in_callers_farms(caller: Principal) -> list[Any]:
    farms = caller.farm_ids
    return [] if farms is None else [col(Observation.farm_id).in_(farms)]


def _store(request: Request, data: bytes, client_id: str, taken_at: datetime,
           field_id: int | None, latitude: float | None, longitude: float | None,
           by: str, farm_id: int) -> tuple[ObservationPublic, bool]:
    """Classify and store (in a worker thread); the observation and whether it is new."""
    settings: FleetSettings = request.app.state.settings
    scout: Scout = request.app.state.scout
    engine = request.app.state.engine
    with Session(engine) as session:
        found = _by_client_id(session, client_id, farm_id)
        if found is not None:
            return public(found), False
        if _by_client_id(session, client_id) is not None:
            raise _client_id_taken()
        choice = active_model(session, settings.data_dir)
    try:
        photo = reencode(data)
        prediction, classifier = scout.classify(choice, data)
    except UnsupportedImage as exc:
        raise HTTPException(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
                            f"{NOT_A_PHOTO} {exc}") from None
    except ImageTooLarge as exc:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, f"{TOO_LARGE} {exc}") from None
    except ImageError as exc:
        raise _refused("not_an_image", str(exc)) from None
    store = PhotoStore(settings.data_dir)
    name = store.save(photo)
    manifest = classifier.manifest
    row = Observation(
        client_id=client_id, farm_id=farm_id, field_id=field_id, latitude=latitude,
        longitude=longitude,
        taken_at=taken_at, taken_by=by, label=prediction.label,
        confidence=round(prediction.confidence, 4), uncertain=prediction.uncertain,
        best=prediction.best,
        top3=[{"label": lb, "confidence": round(c, 4)} for lb, c in prediction.top3],
        crop=prediction.crop.as_dict(), disease=prediction.disease.as_dict(),
        model_name=manifest.name, model_version=manifest.version, model_sha256=manifest.sha256,
        inference_ms=round(prediction.inference_ms, 2), photo_bytes=len(photo.jpeg),
        width=photo.width, height=photo.height, photo_path=name,
    )
    with Session(engine) as session:
        session.add(row)
        try:
            session.commit()
        except IntegrityError:  # the same client_id from a resend that raced this one
            session.rollback()
            store.remove(name)
            found = _by_client_id(session, client_id, farm_id)
            if found is None:
                raise _client_id_taken() from None
            return public(found), False
        session.refresh(row)
        return public(row), True


def _by_client_id(session: Session, client_id: str,
                  farm_id: int | None = None) -> Observation | None:
    """The observation stored under ``client_id`` (in ``farm_id`` when given): a resend
    answers only with its own farm's observation."""
    query = select(Observation).where(col(Observation.client_id) == client_id)
    if farm_id is not None:
        query = query.where(col(Observation.farm_id) == farm_id)
    return session.exec(query).first()


def _client_id_taken() -> HTTPException:
    """A client_id stored for another farm: refused, and nothing of that farm is shown."""
    return HTTPException(status.HTTP_409_CONFLICT, "this client_id is taken: the phone makes "
                         "a new UUID for each photo")


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses={200: {"model": ObservationPublic, "description": "This client_id was stored "
                     "before: the first answer, nothing new stored"},
               400: {"model": Message, "description": "The multipart body cannot be read: "
                     "malformed, or more than 16 fields, 1 file or 4 KB per field"},
               409: {"model": Message, "description": "This client_id is another farm's"},
               415: {"model": Message, "description": "The photo is not declared an image, "
                     "or is not a JPEG, PNG or WebP (HEIC where the fleet can read it) "
                     "photo: another format, a float or animated image, damaged, truncated"},
               413: {"model": Message, "description": "The body is larger than "
                     f"{MAX_UPLOAD_BODY} bytes, the photo larger than the fleet's "
                     "observation_max_bytes, or it has more pixels than photo_max_pixels "
                     "(or than photo decoding may take memory for)",
                     "content": {"text/plain": {"schema": {"type": "string"}}}}},
    max_body_size=MAX_UPLOAD_BODY,
    form_limits={"max_files": 1, "max_fields": 16, "max_part_size": 4096},
    summary="A scouting photo (multipart): classified with the farm's active model, stored as "
    "an observation; resending the same client_id returns the first answer",
)
async def create_observation(
    request: Request,
    response: Response,
    token: CurrentToken,
    photo: Annotated[UploadFile, File(description="A leaf photo (JPEG, PNG, WebP)")],
    client_id: Annotated[uuid.UUID, Form(description="A UUID the phone made for this photo")],
    taken_at: Annotated[Moment | None, Form(description="When it was taken (ISO 8601); "
                                            "default: now")] = None,
    field_id: Annotated[int | None, Form(ge=1, le=MAX_ID)] = None,
    farm_id: Annotated[int | None, Form(ge=1, le=2**31 - 1, description="Without a field: "
                                        "the farm (default: the caller's only farm)")] = None,
    latitude: Annotated[float | None, Form(ge=-90, le=90)] = None,
    longitude: Annotated[float | None, Form(ge=-180, le=180)] = None,
) -> ObservationPublic:
    if (latitude is None) != (longitude is None):
        raise validation_error(("body", "latitude" if latitude is None else "longitude"),
                               "give latitude and longitude together", None)
    ctype = (photo.content_type or "").split(";")[0].strip().lower()
    if ctype and ctype != "application/octet-stream" and not ctype.startswith("image/"):
        raise HTTPException(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
                            f"the photo is {ctype}, not an image")
    limit: int = request.app.state.settings.observation_max_bytes
    data = await photo.read(limit + 1)
    if len(data) > limit:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE,
                            f"the photo is larger than {limit} bytes")
    if not data:
        raise _refused("empty", "the photo has no bytes")
    when = taken_at or datetime.now(UTC)
    with Session(request.app.state.engine) as session:
        farm = _farm_for(session, token, field_id, farm_id)
    stored, new = await run_in_threadpool(_store, request, data, str(client_id), when,
                                          field_id, latitude, longitude, actor(token), farm)
    if not new:
        response.status_code = status.HTTP_200_OK
    return stored


@router.get("", summary="Observations, newest first, filtered by field, label and time taken")
def list_observations(
    session: SessionDep,
    caller: CallerDep,
    window: Window,
    field: Annotated[int | None, Query(ge=1, le=MAX_ID, description="Field id")] = None,
    label: Annotated[str | None, name_query(128, "Class label")] = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> list[ObservationPublic]:
    query = select(Observation).where(*_in_callers_farms(caller))
    if window.since is not None:
        query = query.where(col(Observation.taken_at) >= window.since)
    if window.until is not None:
        query = query.where(col(Observation.taken_at) < window.until)
    if field is not None:
        query = query.where(col(Observation.field_id) == field)
    if label is not None:
        query = query.where(col(Observation.label) == label)
    rows = session.exec(query.order_by(col(Observation.taken_at).desc(),
                                       col(Observation.id).desc()).offset(offset).limit(limit))
    return [public(r) for r in rows]


def _get(session: Session, observation_id: int, caller: Principal) -> Observation:
    row = session.get(Observation, observation_id)
    if row is None or (caller.farm_ids is not None and row.farm_id not in caller.farm_ids):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no observation {observation_id}")
    return row


@router.get("/{observation_id}", responses=NOT_FOUND, summary="One observation")
def get_observation(observation_id: ObservationId, session: SessionDep,
                    caller: CallerDep) -> ObservationPublic:
    return public(_get(session, observation_id, caller))


JPEG: Responses = {200: {"content": {"image/jpeg": {}}, "description": "JPEG"}, **NOT_FOUND}


@router.get("/{observation_id}/photo", response_class=FileResponse, responses=JPEG,
            summary="The stored photo (re-encoded JPEG, at most 2048 px)")
def get_photo(observation_id: ObservationId, request: Request,
              session: SessionDep, caller: CallerDep) -> FileResponse:
    row = _get(session, observation_id, caller)
    path = PhotoStore(request.app.state.settings.data_dir).path(row.photo_path)
    if not path.is_file():
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"observation {observation_id}'s photo "
                            "is missing from the data directory")
    return FileResponse(path, media_type="image/jpeg")


@router.get("/{observation_id}/thumbnail", response_class=FileResponse, responses=JPEG,
            summary="Its thumbnail (JPEG, at most 320 px)")
def get_thumbnail(observation_id: ObservationId, request: Request,
                  session: SessionDep, caller: CallerDep) -> FileResponse:
    row = _get(session, observation_id, caller)
    path = PhotoStore(request.app.state.settings.data_dir).thumb_path(row.photo_path)
    if not path.is_file():
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"observation {observation_id}'s "
                            "thumbnail is missing from the data directory")
    return FileResponse(path, media_type="image/jpeg")
