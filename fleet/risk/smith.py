"""Potato late blight: Smith Periods, with BlightWatch's Half Smith and Near Miss.

Source: Smith, L. P. (1956). "Potato blight forecasting by 90 per cent humidity criteria."
Plant Pathology 5: 83-87; the definitions BlightWatch (AHDB, blightwatch.co.uk, "What are Smith
Periods") published until 2017:

* Full Smith Period: on two consecutive days the minimum air temperature is at least 10 °C and
  relative humidity is 90 % or above for at least 11 hours;
* Half Smith Period: the Full Smith Period criteria are met on one day;
* Near Miss: minimum temperatures of at least 10 °C on two consecutive days, but the hours of
  RH >= 90 % total only 10 on one or both days.

Risk per day (the day and the one before it): ``high`` for a Full Smith Period ending on the
day, ``moderate`` for a Near Miss or a Half Smith (the day meets the full criteria alone),
``low`` otherwise, ``unknown`` when missing hours leave it open.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from agrifleet.fleet.risk.criteria import HumidWarmDay
from agrifleet.fleet.risk.outcome import DayRisk, Risk
from agrifleet.fleet.risk.series import Day

NAME = "smith"

#: What one day is: meets the full criteria, misses by the near-miss margin, or neither.
Grade = Literal["full", "near", "no"]


class SmithParameters(BaseModel):
    model_config = ConfigDict(extra="forbid")

    min_temperature: float = Field(default=10.0, title="each day's minimum at least this (°C)")
    humid_rh: float = Field(default=90.0, ge=0, le=100,
        title="an hour is humid at this RH or above (%)")
    humid_hours: int = Field(default=11, ge=1, le=24, title="humid hours of a full Smith day")
    near_miss_hours: int = Field(default=10, ge=1, le=24, title="humid hours of a near-miss day")


def grade(stats: HumidWarmDay, p: SmithParameters) -> Grade | None:
    """full, near or no; None when missing hours could change it."""
    full = stats.meets(p.min_temperature, p.humid_hours)
    near = stats.meets(p.min_temperature, p.near_miss_hours)
    if full is True:
        return "full"
    if near is False:
        return "no"
    if full is False and near is True:
        return "near"
    return None


def assess(days: list[Day], parameters: SmithParameters | None = None) -> list[DayRisk]:
    """One DayRisk per day, from it and the day before."""
    p = parameters or SmithParameters()
    out: list[DayRisk] = []
    before: Grade | None = None
    for day in days:
        stats = HumidWarmDay.of(day, p.humid_rh)
        today = grade(stats, p)
        risk: Risk
        if today == "no":
            risk, rule = "low", "criteria_not_met"
        elif today is None:
            risk, rule = "unknown", "missing_hours"
        elif before is None:
            risk, rule = "unknown", "day_before_unknown"
        elif today == "full" and before == "full":
            risk, rule = "high", "full_smith_period"
        elif before in ("full", "near"):
            risk, rule = "moderate", "near_miss"
        elif today == "full":
            risk, rule = "moderate", "half_smith_period"
        else:
            risk, rule = "low", "criteria_not_met"
        reason = {"rule": rule, **stats.inputs(), "day": today, "previous_day": before,
                  "thresholds": p.model_dump()}
        out.append(DayRisk(day.date, NAME, risk, reason))
        before = today
    return out
