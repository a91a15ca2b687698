"""A field's own model parameters (e.g. its TOMCAST spray interval and last spray)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON
from sqlmodel import Field, SQLModel

from agrifleet.fleet.columns import UtcDateTime, utcnow


class FieldRiskParameters(SQLModel, table=True):
    """Overrides of one model's parameters for one field, merged over parameters.toml."""

    __tablename__ = "field_risk_parameters"

    field_id: int = Field(primary_key=True, foreign_key="field.id")
    model: str = Field(primary_key=True, max_length=32)
    parameters: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    updated_by: str = Field(default="", max_length=160)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
