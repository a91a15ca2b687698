"""What people say of the models' answers, as stored: scouting observations (a photo a person
took, with the model's diagnosis), and the verdicts people give detections and observations
(confirmed, or rejected with the right crop and disease); with their API shapes and the field
precision a model earns from them."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import ConfigDict
from sqlalchemy import JSON, BigInteger, Index
from sqlmodel import Field, SQLModel

from agrifleet.fleet.columns import BigId, UtcDateTime, utcnow

VerdictValue = Literal["confirmed", "rejected"]


class ObservationBase(SQLModel):
    client_id: str = Field(max_length=36, unique=True,
                           description="The phone's UUID for this observation (resends)")
    farm_id: int | None = Field(default=None, sa_type=BigInteger)
    field_id: int | None = Field(default=None, sa_type=BigInteger)
    latitude: float | None = None
    longitude: float | None = None
    taken_at: datetime = Field(sa_type=UtcDateTime, description="When the photo was taken")
    received_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    taken_by: str = Field(max_length=160)
    label: str = Field(max_length=128, description='Class label, or "uncertain"')
    confidence: float
    uncertain: bool
    best: str = Field(max_length=128, description="The most likely class even when uncertain")
    top3: list[dict[str, Any]] = Field(sa_type=JSON, description="[{label, confidence}, …]")
    crop: dict[str, Any] = Field(sa_type=JSON, description="{name, confidence, uncertain, best}")
    disease: dict[str, Any] = Field(sa_type=JSON,
                                    description="{name, confidence, uncertain, best}")
    model_name: str = Field(max_length=128)
    model_version: str = Field(max_length=64)
    model_sha256: str = Field(max_length=64)
    inference_ms: float
    photo_bytes: int = Field(sa_type=BigInteger, description="Size of the stored JPEG")
    width: int
    height: int


class Observation(ObservationBase, table=True):
    __table_args__ = (Index("ix_observation_taken_at", "taken_at"),
                      Index("ix_observation_field", "field_id", "taken_at"))
    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    photo_path: str = Field(max_length=256, description="Relative to data_dir/observations")


class ObservationPublic(ObservationBase):
    id: int
    advice_key: str | None = Field(description="The label to ask /api/v1/advice about: the "
                                   "answer, or its most likely class when only the crop is "
                                   "uncertain; null when the disease is uncertain too")
    photo_url: str
    thumbnail_url: str


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


class VerdictCreate(SQLModel):
    """A person's verdict on a detection; ``label`` names the right class if they know it."""

    model_config = ConfigDict(extra="forbid")  # type: ignore[assignment]

    verdict: VerdictValue
    label: str | None = Field(default=None, min_length=1, max_length=128,
                              description="The right class, one of the model's labels")


class DetectionVerdict(SQLModel, table=True):
    __table_args__ = (Index("ix_detectionverdict_model", "model_name", "model_version"),)
    detection_id: int = Field(primary_key=True, sa_type=BigInteger,
                              foreign_key="detection.id")
    verdict: str = Field(max_length=16)
    label: str | None = Field(default=None, max_length=128)
    model_name: str = Field(max_length=128, description="The detection's model, for counting")
    model_version: str = Field(max_length=64)
    given_by: str = Field(max_length=160)
    given_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)


class VerdictPublic(SQLModel):
    detection_id: int
    verdict: VerdictValue
    label: str | None
    given_by: str
    given_at: datetime


class LabelPrecision(SQLModel):
    label: str = Field(description="The label the model answered")
    confirmed: int
    rejected: int
    precision: float | None


class FieldPrecision(SQLModel):
    """How often people confirmed what a model version detected in the field."""

    model: str
    version: str
    confirmed: int
    rejected: int
    precision: float | None = Field(description="confirmed / (confirmed + rejected); null "
                                    "before the first verdict")
    by_label: list[LabelPrecision]
