"""A field's risk per day and model: its nodes' readings → hourly series → each model.

The one place that reads the database for the risk models: readings of the devices on the
field (not those dated in the future), from ``lookback_days`` before ``since`` so a model that
looks back (two days for Hutton and Smith, a week for BLITECAST and rice blast, the sum since
the last spray for TOMCAST) has the days it needs; only days from ``since`` to ``until`` are
returned.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select as select_columns
from sqlmodel import Session, col, select

from fleet.devices.tables import Device
from fleet.people.tables import Field_
from fleet.risk import registry
from fleet.risk.outcome import DayRisk
from fleet.risk.series import QUANTITIES, Sample, days, hourly
from fleet.risk.tables import FieldRiskParameters
from fleet.telemetry.tables import Reading

#: Days read before ``since`` for the models that look back.
LOOKBACK_DAYS = 14


def _midnight(d: date) -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=UTC)


def field_overrides(session: Session, field_id: int) -> dict[str, dict[str, object]]:
    """The field's own parameters per model."""
    rows = session.exec(select(FieldRiskParameters)
                        .where(col(FieldRiskParameters.field_id) == field_id)).all()
    return {r.model: dict(r.parameters) for r in rows}


def field_risk(session: Session, field: Field_, since: date, until: date,
               lookback_days: int = LOOKBACK_DAYS) -> list[DayRisk]:
    """One DayRisk per day from ``since`` to ``until`` (inclusive) and model of the field's crop."""
    models = registry.models_for(field.crop)
    if not models:
        return []
    start = _midnight(since - timedelta(days=lookback_days))
    end = _midnight(until + timedelta(days=1))
    devices = select(Device.id).where(col(Device.field_id) == field.id)
    rows = session.execute(
        select_columns(col(Reading.device_id), col(Reading.ts), col(Reading.quantity),
                       col(Reading.value), col(Reading.unit))
        .where(col(Reading.device_id).in_(devices), col(Reading.quantity).in_(QUANTITIES),
               col(Reading.ts) >= start, col(Reading.ts) < end, ~col(Reading.future))
    ).all()
    samples = [Sample(d, ts, q, float(v), u) for d, ts, q, v, u in rows]
    all_days = days(hourly(samples, start, end))
    overrides = field_overrides(session, field.id or 0)
    out: list[DayRisk] = []
    for model in models:
        for result in registry.assess(model, all_days, overrides.get(model)):
            if since <= result.date <= until:
                out.append(result)
    return sorted(out, key=lambda r: (r.date, models.index(r.model)))
