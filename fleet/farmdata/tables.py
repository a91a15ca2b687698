"""A farm's data policy, as stored: how long its readings, photos and alerts are kept, and its
consent to training models on its confirmed photos (who gave it, when); with its API shapes."""

from __future__ import annotations

from datetime import datetime

from pydantic import ConfigDict
from sqlalchemy import false
from sqlmodel import Field, SQLModel

from agrifleet.fleet.columns import UtcDateTime, utcnow

#: At most a hundred years.
MAX_DAYS = 36_600
Days = int | None


class FarmDataPolicy(SQLModel, table=True):
    """A farm's own retention and consent; no row: the fleet's defaults, no consent."""

    farm_id: int = Field(primary_key=True, foreign_key="farm.id")
    readings_days: int | None = Field(default=None, description="Raw readings (rollups stay)")
    photos_days: int | None = Field(default=None, description="Thumbnails and scouting photos")
    alerts_days: int | None = Field(default=None, description="Cleared alerts")
    training_consent: bool = Field(default=False, sa_column_kwargs={"server_default": false()})
    consent_by: str | None = Field(default=None, max_length=300)
    consent_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    updated_by: str = Field(default="", max_length=300)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)


class DataPolicyUpdate(SQLModel):
    """Change a farm's policy; what is left out stays, null goes back to the fleet's default."""

    model_config = ConfigDict(extra="forbid")  # type: ignore[assignment]

    readings_days: Days = Field(default=None, ge=1, le=MAX_DAYS,
                                description="Keep raw readings this many days (rollups stay)")
    photos_days: Days = Field(default=None, ge=1, le=MAX_DAYS,
                              description="Keep thumbnails and scouting photos this many days")
    alerts_days: Days = Field(default=None, ge=1, le=MAX_DAYS,
                              description="Keep cleared alerts this many days")
    training_consent: bool | None = Field(
        default=None, description="Our confirmed photos may be used to train models")


class RetentionDays(SQLModel):
    readings_days: Days
    photos_days: Days
    alerts_days: Days


class DataPolicyPublic(SQLModel):
    farm_id: int
    own: RetentionDays = Field(description="The farm's own days; null: the fleet's default")
    defaults: RetentionDays = Field(description="The fleet's defaults; null: kept for ever")
    effective: RetentionDays = Field(description="What the retention thread applies")
    training_consent: bool
    consent_by: str | None = Field(description="Who last turned consent on or off")
    consent_at: datetime | None
    updated_by: str | None
    updated_at: datetime | None
