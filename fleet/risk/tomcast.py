"""Tomato early blight (and Alternaria on potato): TOMCAST disease severity values.

Sources: Madden, L., Pennypacker, S. P., MacNab, A. A. (1978). "FAST, a forecast system for
Alternaria solani on tomato." Phytopathology 68: 1354-1358 (the severity value table);
Pitblado, R. E. (1992). "The development and implementation of TOM-CAST: a weather-timed
fungicide spray program for field tomatoes." Ridgetown College, Ontario (daily values summed to
a spray interval, 15-20 with 20 the usual default; also the default of NIBIO's VIPS Alternaria
model). The table, mean temperature during the wet hours rounded to whole °C:

==========  ======  ======  =======  =======  ======
mean °C     DSV 0   DSV 1   DSV 2    DSV 3    DSV 4
==========  ======  ======  =======  =======  ======
13-17       0-6 h   7-15 h  16-20 h  21+ h    -
18-20       0-3 h   4-8 h   9-15 h   16-22 h  23+ h
21-25       0-2 h   3-5 h   6-12 h   13-20 h  21+ h
26-29       0-3 h   4-8 h   9-15 h   16-22 h  23+ h
==========  ======  ======  =======  =======  ======

Wet hours come from a leaf wetness sensor (an hour is wet at ``wet_percent`` or more); a day
without one counts hours with RH above ``humid_rh`` instead, and the reason says so. Each day:
the sum of values since the field's last spray (``last_spray``, else the first day given);
``high`` when it reaches the spray interval, ``moderate`` from ``warn_fraction`` of it (our
choice, not from the publications), else ``low``; ``unknown`` when days of unknown value could
change that.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from agrifleet.fleet.risk.outcome import DayRisk, Risk
from agrifleet.fleet.risk.series import Day

NAME = "tomcast"

#: (lowest °C, highest °C, upper hour bounds of DSV 0, 1, 2[, 3]).
DSV_ROWS: tuple[tuple[int, int, tuple[int, ...]], ...] = (
    (13, 17, (6, 15, 20)),
    (18, 20, (3, 8, 15, 22)),
    (21, 25, (2, 5, 12, 20)),
    (26, 29, (3, 8, 15, 22)),
)


class TomcastParameters(BaseModel):
    model_config = ConfigDict(extra="forbid")

    spray_interval: float = Field(default=20.0, gt=0, le=100,
        title="spray when the sum reaches this")
    warn_fraction: float = Field(default=0.75, gt=0, le=1, title="moderate from this share of it")
    last_spray: date | None = Field(default=None, title="the field's last fungicide spray")
    wet_percent: float = Field(default=50.0, gt=0, le=100,
        title="an hour is wet at this wetness (%)")
    humid_rh: float = Field(default=90.0, ge=0, lt=100,
        title="without a wetness sensor: RH above this")


def severity_value(wet_hours: int, mean_temperature: float | None) -> int:
    """TOMCAST's daily severity value 0-4 for wet hours at their mean temperature."""
    if mean_temperature is None:
        return 0
    t = int(mean_temperature + 0.5)  # the table's rows are whole degrees: round half up
    for low, high, bounds in DSV_ROWS:
        if low <= t <= high:
            return sum(1 for bound in bounds if wet_hours > bound)
    return 0


def _day_value(day: Day, p: TomcastParameters) -> tuple[int | None, dict[str, Any]]:
    sensor = day.has_wetness
    if sensor:
        wet = [h for h in day.hours if h.leaf_wetness is not None
               and h.leaf_wetness >= p.wet_percent]
        missing = sum(1 for h in day.hours
                      if h.leaf_wetness is None or h.air_temperature is None)
    else:
        wet = [h for h in day.known if (h.relative_humidity or 0.0) > p.humid_rh]
        missing = day.missing
    temps = [h.air_temperature for h in wet if h.air_temperature is not None]
    mean = round(sum(temps) / len(temps), 2) if temps else None
    inputs = {"wet_hours": len(wet), "wet_mean_temperature": mean, "missing_hours": missing,
              "wetness_from": "leaf_wetness_sensor" if sensor else "relative_humidity"}
    if missing:
        return None, inputs
    return severity_value(len(wet), mean), inputs


def _level(total: float, p: TomcastParameters) -> Risk:
    if total >= p.spray_interval:
        return "high"
    if total >= p.warn_fraction * p.spray_interval:
        return "moderate"
    return "low"


def assess(days: list[Day], parameters: TomcastParameters | None = None) -> list[DayRisk]:
    """One DayRisk per day with the sum since the last spray (or the first day given)."""
    p = parameters or TomcastParameters()
    low_sum = unknown = 0
    out: list[DayRisk] = []
    for day in days:
        value, inputs = _day_value(day, p)
        if p.last_spray is not None and day.date <= p.last_spray:
            low_sum = unknown = 0  # the spray day itself starts a new count
            value_counted = False
        else:
            value_counted = True
            if value is None:
                unknown += 1
            else:
                low_sum += value
        lowest, highest = _level(low_sum, p), _level(low_sum + 4 * unknown, p)
        reason = {**inputs, "severity": value, "severity_sum": low_sum,
                  "days_of_unknown_severity": unknown, "counted": value_counted,
                  "since": p.last_spray.isoformat() if p.last_spray else days[0].date.isoformat(),
                  "thresholds": p.model_dump(mode="json")}
        if lowest != highest:
            out.append(DayRisk(day.date, NAME, "unknown", {**reason, "rule": "missing_hours"}))
        else:
            rule = {"high": "spray_interval_reached", "moderate": "approaching_spray_interval",
                    "low": "below_spray_interval"}[lowest]
            out.append(DayRisk(day.date, NAME, lowest, {**reason, "rule": rule}))
    return out
