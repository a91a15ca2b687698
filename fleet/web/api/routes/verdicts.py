"""A person's verdict on a detection or a scouting observation, and the field precision it
gives each model version."""

from __future__ import annotations

from pathlib import Path as FilePath
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, status
from sqlmodel import Session

from agrifleet.fleet.devices.tables import Device
from agrifleet.fleet.modelops.observation_verdicts import give_verdict as give_observation_verdict
from agrifleet.fleet.modelops.registry.publish import find
from agrifleet.fleet.modelops.tables import (
    FieldPrecision,
    Observation,
    ObservationVerdictPublic,
    VerdictCreate,
    VerdictPublic,
)
from agrifleet.fleet.modelops.verdicts import field_precision, give_verdict
from agrifleet.fleet.telemetry.tables import Detection
from agrifleet.fleet.web.api.deps import CallerDep, CurrentToken, SessionDep
from agrifleet.fleet.web.api.errors import Message, too_large, validation_error
from agrifleet.fleet.web.api.params import MAX_BODY_BYTES, MAX_ID
from agrifleet.fleet.web.api.routes.observations import ObservationId
from agrifleet.fleet.web.api.routes.registry import NameParam, VersionParam
from agrifleet.fleet.web.api.routes.rollouts import actor
from agrifleet.manifest import LABELS_NAME

router = APIRouter(tags=["verdicts"])

DetectionId = Annotated[int, Path(ge=1, le=MAX_ID, description="Detection id")]


def model_labels(session: Session, name: str, version: str) -> list[str] | None:
    """The labels of a model version: the registry's manifest, else a shipped model's."""
    package = find(session, name, version)
    if package is not None:
        return list(package.manifest.get("labels", []))
    from agrifleet.models.shipped import models_root

    root = models_root()
    labels = root / name / version / LABELS_NAME
    plain = all(part and FilePath(part).name == part and not part.startswith(".")
                for part in (name, version))
    if not plain or not labels.is_file():
        return None
    return labels.read_text(encoding="utf-8").splitlines()


@router.post(
    "/detections/{detection_id}/verdict",
    responses={404: {"model": Message, "description": "No such detection"},
               **too_large(MAX_BODY_BYTES)},
    max_body_size=MAX_BODY_BYTES,
    summary="Confirm or reject a detection, and name the right class (any role); the latest "
    "verdict wins",
)
def post_verdict(detection_id: DetectionId, body: VerdictCreate, session: SessionDep,
                 token: CurrentToken) -> VerdictPublic:
    detection = session.get(Detection, detection_id)
    device = None if detection is None else session.get(Device, detection.device_id)
    if detection is None or device is None or token.role_in(device.farm_id) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no detection {detection_id}")
    if body.label is not None:
        labels = model_labels(session, detection.model_name, detection.model_version)
        if labels is not None and body.label not in labels:
            raise validation_error(("body", "label"), f"not a label of model "
                                   f"{detection.model_name} {detection.model_version}",
                                   body.label)
    row = give_verdict(session, detection, body, actor(token))
    session.commit()
    session.refresh(row)
    return VerdictPublic.model_validate(row)


@router.post(
    "/observations/{observation_id}/verdict",
    tags=["observations"],
    responses={404: {"model": Message, "description": "No such observation"},
               **too_large(MAX_BODY_BYTES)},
    max_body_size=MAX_BODY_BYTES,
    summary="Confirm or reject a scouting diagnosis, and name the right class (any role in its "
    "farm); the latest verdict wins",
)
def post_observation_verdict(observation_id: ObservationId, body: VerdictCreate,
                             session: SessionDep, token: CurrentToken) -> ObservationVerdictPublic:
    observation = session.get(Observation, observation_id)
    if (observation is None or observation.farm_id is None
            or token.role_in(observation.farm_id) is None):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no observation {observation_id}")
    if body.label is not None:
        labels = model_labels(session, observation.model_name, observation.model_version)
        if labels is not None and body.label not in labels:
            raise validation_error(("body", "label"), f"not a label of model "
                                   f"{observation.model_name} {observation.model_version}",
                                   body.label)
    row = give_observation_verdict(session, observation, body, actor(token))
    session.commit()
    session.refresh(row)
    return ObservationVerdictPublic.model_validate(row)


@router.get(
    "/models/{name}/{version}/field-precision",
    tags=["models"],
    responses={404: {"model": Message, "description": "No such farm among the caller's"}},
    summary="How often people confirmed this model version's detections: "
    "confirmed / (confirmed + rejected), overall and per label, in the caller's farms or one",
)
def get_field_precision(
    name: NameParam, version: VersionParam, session: SessionDep, caller: CallerDep,
    farm_id: Annotated[int | None, Query(ge=1, le=2**31 - 1, description="Only this farm's "
                                         "verdicts (one of the caller's farms)")] = None,
) -> FieldPrecision:
    if farm_id is None:
        return field_precision(session, name, version, caller.farm_ids)
    if caller.role_in(farm_id) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"unknown farm {farm_id}")
    return field_precision(session, name, version, {farm_id})
