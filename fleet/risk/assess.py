"""A field's risk per day and model: its nodes' readings → hourly series → each model.

The one place that reads the database for the risk models: the hourly rollups the writer keeps
(fleet/telemetry/rollups.py: count and sum per node, sensor, quantity and hour, as the node
charts read them) of the devices on the field, for hours up to now, from ``lookback_days``
before ``since`` so a model that looks back (two days for Hutton and Smith, a week for
BLITECAST and rice blast, the sum since the last spray for TOMCAST) has the days it needs;
only days from ``since`` to ``until`` are returned. Reading hours, not readings, keeps a field
page quick however often its nodes report, and the risk outlives the raw readings' retention.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select as select_columns
from sqlmodel import Session, col, select

from agrifleet.fleet.devices.tables import Device
from agrifleet.fleet.people.tables import Field_
from agrifleet.fleet.risk import registry
from agrifleet.fleet.risk.outcome import DayRisk
from agrifleet.fleet.risk.series import QUANTITIES, RAINFALL, Sample, days, hourly
from agrifleet.fleet.risk.tables import FieldRiskParameters
from agrifleet.fleet.telemetry.tables import LatestReading, ReadingHourly

#: Days read before ``since`` for the models that look back.
LOOKBACK_DAYS = 14


def _midnight(d: date) -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=UTC)


def field_overrides(session: Session, field_id: int) -> dict[str, dict[str, object]]:
    """The field's own parameters per model."""
    rows = session.exec(select(FieldRiskParameters)
                        .where(col(FieldRiskParameters.field_id) == field_id)).all()
    return {r.model: dict(r.parameters) for r in rows}


def _hour_start(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def hourly_samples(session: Session, field_id: int, start: datetime,
                   end: datetime) -> list[Sample]:
    """One Sample per node, sensor, quantity and hour in [start, end) from the hourly rollups:
    the readings' mean in that hour (rainfall: their sum), in the sensor's unit."""
    devices = select(Device.id).where(col(Device.field_id) == field_id)
    units = {(d, s, q): u for d, s, q, u in session.execute(
        select_columns(col(LatestReading.device_id), col(LatestReading.sensor),
                       col(LatestReading.quantity), col(LatestReading.unit))
        .where(col(LatestReading.device_id).in_(devices),
               col(LatestReading.quantity).in_(QUANTITIES))).all()}
    rows = session.execute(
        select_columns(col(ReadingHourly.device_id), col(ReadingHourly.sensor),
                       col(ReadingHourly.quantity), col(ReadingHourly.bucket),
                       col(ReadingHourly.count), col(ReadingHourly.sum))
        .where(col(ReadingHourly.device_id).in_(devices),
               col(ReadingHourly.quantity).in_(QUANTITIES), col(ReadingHourly.bucket) >= start,
               col(ReadingHourly.bucket) < end, col(ReadingHourly.sum).is_not(None),
               col(ReadingHourly.count) > 0)
    ).all()
    return [Sample(d, hour, q, float(total) if q == RAINFALL else float(total) / n,
                   units.get((d, s, q), ""))
            for d, s, q, hour, n, total in rows]


def field_risk(session: Session, field: Field_, since: date, until: date,
               lookback_days: int = LOOKBACK_DAYS, now: datetime | None = None) -> list[DayRisk]:
    """One DayRisk per day from ``since`` to ``until`` (inclusive) and model of the field's crop;
    hours not over by ``now`` (default: the clock) are missing, whatever the rollups hold: the
    hour in progress too, whose rollup is still growing (so today is never decided from a
    part of its last hour)."""
    models = registry.models_for(field.crop)
    if not models:
        return []
    now = now or datetime.now(UTC)
    start = _midnight(since - timedelta(days=lookback_days))
    end = _midnight(until + timedelta(days=1))
    samples = hourly_samples(session, field.id or 0, start, min(end, _hour_start(now)))
    all_days = days(hourly(samples, start, end))
    overrides = field_overrides(session, field.id or 0)
    out: list[DayRisk] = []
    for model in models:
        for result in registry.assess(model, all_days, overrides.get(model)):
            if since <= result.date <= until:
                out.append(result)
    return sorted(out, key=lambda r: (r.date, models.index(r.model)))
