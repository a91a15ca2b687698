"""Potato late blight: the Hutton Criteria (used in the UK since 2017).

Source: Dancey, S., Skelsey, P., Cooke, D. E. L. (2017). "The Hutton Criteria: a
classification tool for identifying high risk periods for potato late blight disease
development in Great Britain." Proceedings of the 16th EuroBlight Workshop, PAGV Special
Report 18: 53-58; the criteria AHDB's BlightWatch has used since 2017.

A Hutton Criteria period is two consecutive days, each with a minimum temperature of at least
10 °C and at least 6 hours with relative humidity at or above 90 %. A day's risk is ``high``
when it completes such a period (it and the day before both meet the criteria), ``moderate``
when it meets them alone (a second such day tomorrow completes a period), ``low`` when it
does not, and ``unknown`` when missing hours leave that open.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from agrifleet.fleet.risk.criteria import HumidWarmDay
from agrifleet.fleet.risk.outcome import DayRisk, Risk
from agrifleet.fleet.risk.series import Day

NAME = "hutton"


class HuttonParameters(BaseModel):
    model_config = ConfigDict(extra="forbid")

    min_temperature: float = Field(default=10.0, title="each day's minimum at least this (°C)")
    humid_rh: float = Field(default=90.0, ge=0, le=100,
        title="an hour is humid at this RH or above (%)")
    humid_hours: int = Field(default=6, ge=1, le=24, title="humid hours each day needs")


def assess(days: list[Day], parameters: HuttonParameters | None = None) -> list[DayRisk]:
    """One DayRisk per day; the first day's day-before is unknown unless it fails itself."""
    p = parameters or HuttonParameters()
    out: list[DayRisk] = []
    before: bool | None = None
    for day in days:
        stats = HumidWarmDay.of(day, p.humid_rh)
        meets = stats.meets(p.min_temperature, p.humid_hours)
        risk: Risk
        if meets is False:
            risk, rule = "low", "criteria_not_met"
        elif meets is None:
            risk, rule = "unknown", "missing_hours"
        elif before is True:
            risk, rule = "high", "hutton_period"
        elif before is False:
            risk, rule = "moderate", "one_day_met"
        else:
            risk, rule = "unknown", "day_before_unknown"
        reason = {"rule": rule, **stats.inputs(), "previous_day_met": before,
                  "thresholds": p.model_dump()}
        out.append(DayRisk(day.date, NAME, risk, reason))
        before = meets
    return out
