"""People's verdicts on scouting observations: the model's diagnosis of a phone's photo
confirmed, or rejected with the right class named. One per observation; the latest wins (who
and when kept), as for detections (:mod:`fleet.modelops.verdicts`)."""

from __future__ import annotations

from sqlmodel import Session

from agrifleet.fleet.columns import utcnow
from agrifleet.fleet.modelops.tables import Observation, ObservationVerdict, VerdictCreate


def give_verdict(session: Session, observation: Observation, body: VerdictCreate,
                 by: str) -> ObservationVerdict:
    """Store (or replace) the verdict on ``observation``; the caller commits."""
    assert observation.id is not None
    row = session.get(ObservationVerdict, observation.id) or ObservationVerdict(
        observation_id=observation.id, verdict=body.verdict,
        model_name=observation.model_name, model_version=observation.model_version, given_by=by)
    row.verdict = body.verdict
    row.label = body.label if body.verdict == "rejected" else None
    row.given_by = by
    row.given_at = utcnow()
    session.add(row)
    return row
