"""People's verdicts on detections (confirmed or rejected), and field precision per model.

One verdict per detection: a new one replaces the old (the latest wins; who gave it and when are
kept). Field precision of a model version is confirmed / (confirmed + rejected) over the
detections its nodes reported.
"""

from __future__ import annotations

from sqlalchemy import case, func
from sqlmodel import Session, col, select

from agrifleet.fleet.columns import utcnow
from agrifleet.fleet.devices.scope import in_farms
from agrifleet.fleet.modelops.tables import (
    DetectionVerdict,
    FieldPrecision,
    LabelPrecision,
    VerdictCreate,
)
from agrifleet.fleet.telemetry.tables import Detection


def give_verdict(session: Session, detection: Detection, body: VerdictCreate,
                 by: str) -> DetectionVerdict:
    """Store (or replace) the verdict on ``detection``; the caller commits."""
    assert detection.id is not None
    row = session.get(DetectionVerdict, detection.id)
    if row is None:
        row = DetectionVerdict(detection_id=detection.id, verdict=body.verdict,
                               model_name=detection.model_name,
                               model_version=detection.model_version, given_by=by)
    row.verdict = body.verdict
    row.label = body.label
    row.given_by = by
    row.given_at = utcnow()
    session.add(row)
    return row


def _precision(confirmed: int, rejected: int) -> float | None:
    total = confirmed + rejected
    return None if total == 0 else round(confirmed / total, 4)


def field_precision(session: Session, model: str, version: str,
                    farm_ids: set[int] | None = None) -> FieldPrecision:
    """Verdicts on the model version's detections, of ``farm_ids``' devices when given."""
    confirmed = func.sum(case((col(DetectionVerdict.verdict) == "confirmed", 1), else_=0))
    rejected = func.sum(case((col(DetectionVerdict.verdict) == "rejected", 1), else_=0))
    rows = session.exec(
        select(Detection.label, confirmed, rejected)
        .join(Detection, col(Detection.id) == col(DetectionVerdict.detection_id))
        .where(col(DetectionVerdict.model_name) == model,
               col(DetectionVerdict.model_version) == version,
               *in_farms(Detection.device_id, farm_ids))
        .group_by(col(Detection.label)).order_by(col(Detection.label))
    ).all()
    by_label = [LabelPrecision(label=label, confirmed=int(c or 0), rejected=int(r or 0),
                               precision=_precision(int(c or 0), int(r or 0)))
                for label, c, r in rows]
    total_c = sum(x.confirmed for x in by_label)
    total_r = sum(x.rejected for x in by_label)
    return FieldPrecision(model=model, version=version, confirmed=total_c, rejected=total_r,
                          precision=_precision(total_c, total_r), by_label=by_label)
