"""People's verdicts on scouting observations: the model's diagnosis of a phone's photo
confirmed, or rejected with the right class named. One per observation; the latest wins (who
and when kept), as for detections (:mod:`fleet.modelops.verdicts`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger
from sqlmodel import Field, Session, SQLModel

from fleet.columns import UtcDateTime, utcnow
from fleet.modelops.observations import Observation
from fleet.modelops.verdicts import VerdictCreate, VerdictValue


class ObservationVerdict(SQLModel, table=True):
    observation_id: int = Field(primary_key=True, sa_type=BigInteger,
                                foreign_key="observation.id")
    verdict: str = Field(max_length=16)
    label: str | None = Field(default=None, max_length=128)
    model_name: str = Field(max_length=128)
    model_version: str = Field(max_length=64)
    given_by: str = Field(max_length=160)
    given_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)


class ObservationVerdictPublic(SQLModel):
    observation_id: int
    verdict: VerdictValue
    label: str | None = Field(description="The right class they named; a confirmation keeps "
                              "the model's")
    given_by: str
    given_at: datetime


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
