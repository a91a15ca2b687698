"""``/api/v1/detections``: crop-disease detections from the nodes, and their thumbnails."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Response, status

from agrifleet.fleet.modelops import detections
from agrifleet.fleet.telemetry.tables import DetectionPublic
from agrifleet.fleet.web.api.deps import DEVICE_ID, CallerDep, SessionDep
from agrifleet.fleet.web.api.errors import Message
from agrifleet.fleet.web.api.params import MAX_ID, Limit, Window, name_query

router = APIRouter(prefix="/detections", tags=["detections"])

DetectionId = Annotated[int, Path(ge=1, le=MAX_ID, description="Detection id")]


@router.get("", summary="Detections, newest first, by device, label, crop, disease and time")
def list_detections(
    session: SessionDep,
    caller: CallerDep,
    window: Window,
    device: Annotated[
        str | None, Query(max_length=64, pattern=DEVICE_ID, description="Device id")
    ] = None,
    label: Annotated[str | None, name_query(128, "Class label")] = None,
    limit: Limit = 100,
    crop: Annotated[
        str | None, name_query(128, 'Crop name ("Tomato"), or "uncertain"')
    ] = None,
    disease: Annotated[
        str | None, name_query(128, 'Disease name ("Late blight", "healthy"), or "uncertain"')
    ] = None,
) -> list[DetectionPublic]:
    return detections.detections(session, device, label, window.since, window.until, limit,
                              caller.farm_ids, crop=crop, disease=disease)


@router.get("/{detection_id}", responses={404: {"model": Message}}, summary="One detection")
def get_detection(detection_id: DetectionId, session: SessionDep,
                  caller: CallerDep) -> DetectionPublic:
    found = detections.detection(session, detection_id, caller.farm_ids)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no detection {detection_id}")
    return found


@router.get(
    "/{detection_id}/image",
    response_class=Response,
    responses={
        200: {"content": {"image/jpeg": {}}, "description": "The JPEG thumbnail"},
        404: {"model": Message, "description": "No such detection, or it has no thumbnail"},
    },
    summary="The detection's JPEG thumbnail",
)
def get_detection_image(detection_id: DetectionId, session: SessionDep,
                        caller: CallerDep) -> Response:
    image = detections.detection_image(session, detection_id, caller.farm_ids)
    if image is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"detection {detection_id} has no image")
    return Response(image, media_type="image/jpeg")
