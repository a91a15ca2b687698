"""Rice blast (Magnaporthe oryzae): a rule-based risk from humid nights at blast temperatures.

Source: the forecasting rule of ICAR's Rice Knowledge Management Portal (rkmp.co.in,
"Forecasting of rice blast disease", Birsa Agricultural University, Ranchi): blast can be
forecast from a minimum night temperature of 20-26 °C together with relative humidity of 90 %
and above, lasting for a week or more, during the susceptible stages (seedling, tillering after
transplanting, neck emergence). The same portal names long dew (leaf wetness) periods and RH of
93-99 % as favouring infection.

A day is blast-favourable when its minimum temperature is within ``min_night_temperature`` to
``max_night_temperature`` and it has at least ``wet_hours`` hours of leaf wetness (from a
wetness sensor), or of RH >= ``humid_rh`` where the field has none (the reason says which).
Risk: ``high`` after ``high_run`` favourable days in a row (7: "a week or more"), ``moderate``
after ``moderate_run`` (3, our choice so a farm hears before the week is full), else ``low``.
``wet_hours`` = 10 is our reading of "lasting": a humid night, not a humid hour.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from agrifleet.fleet.risk.outcome import DayRisk, Risk
from agrifleet.fleet.risk.series import Day

NAME = "rice_blast"


class RiceBlastParameters(BaseModel):
    model_config = ConfigDict(extra="forbid")

    min_night_temperature: float = Field(default=20.0,
        title="favourable minimum temperature from (°C)")
    max_night_temperature: float = Field(default=26.0,
        title="favourable minimum temperature to (°C)")
    humid_rh: float = Field(default=90.0, ge=0, le=100,
        title="an hour is humid at this RH or above (%)")
    wet_percent: float = Field(default=50.0, gt=0, le=100,
        title="an hour is wet at this wetness (%)")
    wet_hours: int = Field(default=10, ge=1, le=24,
        title="wet or humid hours a favourable day needs")
    moderate_run: int = Field(default=3, ge=1, le=31, title="favourable days in a row for moderate")
    high_run: int = Field(default=7, ge=1, le=31, title="favourable days in a row for high")


def _favourable(day: Day, p: RiceBlastParameters) -> tuple[bool | None, dict[str, Any]]:
    known = day.known
    temps = [h.air_temperature for h in known if h.air_temperature is not None]
    low = min(temps) if temps else None
    sensor = day.has_wetness
    if sensor:
        wet = sum(1 for h in day.hours
                  if h.leaf_wetness is not None and h.leaf_wetness >= p.wet_percent)
        missing_wet = sum(1 for h in day.hours if h.leaf_wetness is None)
    else:
        wet = sum(1 for h in known if (h.relative_humidity or 0.0) >= p.humid_rh)
        missing_wet = day.missing
    inputs = {"min_temperature": low, "wet_hours": wet, "missing_hours": day.missing,
              "wetness_from": "leaf_wetness_sensor" if sensor else "relative_humidity"}
    if low is not None and not (p.min_night_temperature <= low):
        return False, inputs  # a colder hour is known: missing hours cannot make it warmer
    if wet + missing_wet < p.wet_hours:
        return False, inputs
    if day.missing or missing_wet:
        return None, inputs  # a missing hour may be cooler, or wet
    assert low is not None
    return low <= p.max_night_temperature and wet >= p.wet_hours, inputs


def assess(days: list[Day], parameters: RiceBlastParameters | None = None) -> list[DayRisk]:
    """One DayRisk per day from the run of favourable days ending on it."""
    p = parameters or RiceBlastParameters()
    run_known = 0  # favourable days in a row, counting only decided ones
    run_possible = 0  # the same if every undecided day was favourable
    out: list[DayRisk] = []
    for day in days:
        favourable, inputs = _favourable(day, p)
        if favourable is False:
            run_known = run_possible = 0
        elif favourable is True:
            run_known += 1
            run_possible += 1
        else:
            run_known = 0
            run_possible += 1

        def level(run: int) -> Risk:
            if run >= p.high_run:
                return "high"
            return "moderate" if run >= p.moderate_run else "low"

        lowest, highest = level(run_known), level(run_possible)
        reason = {**inputs, "favourable": favourable, "favourable_days_in_a_row": run_known,
                  "thresholds": p.model_dump()}
        if lowest != highest:
            out.append(DayRisk(day.date, NAME, "unknown", {**reason, "rule": "missing_hours"}))
            continue
        rule = {"high": "favourable_week", "moderate": "favourable_days",
                "low": "not_favourable"}[lowest]
        out.append(DayRisk(day.date, NAME, lowest, {**reason, "rule": rule}))
    return out
