"""Detections as the API lists them: each with whether it has a thumbnail and the verdict a
person gave it (:mod:`fleet.modelops.verdicts`), scoped to the caller's farms."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Select
from sqlalchemy import select as select_columns
from sqlmodel import Session, SQLModel, col, select

from agrifleet.fleet.devices.scope import in_farms
from agrifleet.fleet.modelops.tables import DetectionVerdict
from agrifleet.fleet.telemetry.queries import in_window
from agrifleet.fleet.telemetry.tables import Detection, DetectionPublic


def _detection_query() -> Select[Any]:
    """Every detection column but the image bytes, and whether there is an image."""
    table = SQLModel.metadata.tables["detection"]
    columns = [c for c in table.columns if c.name != "thumbnail"]
    verdict = DetectionVerdict.__table__.c  # type: ignore[attr-defined]
    return select_columns(
        *columns, table.c.thumbnail.is_not(None).label("has_image"),
        verdict.verdict, verdict.label.label("verdict_label"),
        verdict.given_by.label("verdict_by"), verdict.given_at.label("verdict_at"),
    ).select_from(table.outerjoin(DetectionVerdict.__table__,  # type: ignore[attr-defined]
                                  verdict.detection_id == table.c.id))


def detections(
    session: Session,
    device_id: str | None,
    label: str | None,
    since: datetime | None,
    until: datetime | None,
    limit: int,
    farm_ids: set[int] | None = None,
    crop: str | None = None,
    disease: str | None = None,
) -> list[DetectionPublic]:
    where = [*in_window(col(Detection.ts), since, until), *in_farms(Detection.device_id, farm_ids)]
    if device_id is not None:
        where.append(col(Detection.device_id) == device_id)
    if label is not None:
        where.append(col(Detection.label) == label)
    if crop is not None:
        where.append(col(Detection.crop) == crop)
    if disease is not None:
        where.append(col(Detection.disease) == disease)
    query = _detection_query().where(*where).order_by(col(Detection.ts).desc()).limit(limit)
    return [DetectionPublic.model_validate(dict(r._mapping)) for r in session.execute(query)]


def detection(session: Session, detection_id: int,
              farm_ids: set[int] | None = None) -> DetectionPublic | None:
    row = session.execute(_detection_query().where(
        col(Detection.id) == detection_id, *in_farms(Detection.device_id, farm_ids))).first()
    return None if row is None else DetectionPublic.model_validate(dict(row._mapping))


def detection_image(session: Session, detection_id: int,
                    farm_ids: set[int] | None = None) -> bytes | None:
    image: bytes | None = session.exec(
        select(Detection.thumbnail).where(col(Detection.id) == detection_id,
                                          *in_farms(Detection.device_id, farm_ids))
    ).first()
    return image
