"""Potato late blight: BLITECAST's spray advice from Wallin's severity values.

Sources: Wallin, J. R. (1962). "Summary of recent progress in predicting late blight
epidemics in United States and Canada." American Potato Journal 39: 306-312 (the severity
value table); Krause, R. A., Massie, L. B., Hyre, R. A. (1975). "BLITECAST: a computerized
forecast of potato late blight." Plant Disease Reporter 59: 95-98 (the spray advice). The
temperature rows in °C (7.2-11.6, 11.7-15.0, 15.1-26.6) and the hour bounds are as in the UC
IPM potato late blight model and the ``cropsim`` R implementation (Hijmans, 2009), which also
counts a rain-favourable day as one with more than 3 mm of rain.

Each day: a severity value 0-4 from the hours with RH >= 90 % and their mean temperature; then
the severity values of the last 7 days and the rain-favourable days among them give the advice:

==================  ==============  ============  =============  ==============
rain-fav. days (7)  no spray        warning       7-day spray    5-day spray
==================  ==============  ============  =============  ==============
fewer than 5        severity <= 3   4             5-6            7 or more
5 or more           severity <= 2   3             4              5 or more
==================  ==============  ============  =============  ==============

Risk: no spray = ``low``, warning = ``moderate``, a spray schedule = ``high``. Without a rain
gauge the 5-or-more row is used (the stricter one) and the reason says so; a week with days of
unknown severity is decided only when every value those days could have gives the same advice.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from agrifleet.fleet.risk.outcome import DayRisk, Risk
from agrifleet.fleet.risk.series import Day

NAME = "blitecast"

#: Wallin (1962): (highest mean °C of the row, upper hour bounds of severity 0, 1, 2, 3).
WALLIN_ROWS: tuple[tuple[float, tuple[int, int, int, int]], ...] = (
    (11.6, (15, 18, 21, 24)),
    (15.0, (12, 15, 18, 21)),
    (26.6, (9, 12, 15, 18)),
)
WALLIN_MIN_TEMPERATURE = 7.2
ADVICE_RISK: dict[str, Risk] = {
    "no_spray": "low", "warning": "moderate", "spray_7_day": "high", "spray_5_day": "high",
}


class BlitecastParameters(BaseModel):
    model_config = ConfigDict(extra="forbid")

    humid_rh: float = Field(default=90.0, ge=0, le=100,
        title="an hour is humid at this RH or above (%)")
    rain_favourable_mm: float = Field(default=3.0, ge=0,
        title="a day with more rain is rain-favourable")
    window_days: int = Field(default=7, ge=1, le=31, title="days summed for the advice")
    rain_days: int = Field(default=5, ge=1, le=31,
        title="rain-favourable days for the stricter row")


def wallin_severity(humid_hours: int, mean_temperature: float | None) -> int:
    """Wallin's severity value 0-4 for a day's humid hours at their mean temperature."""
    if mean_temperature is None or not (
        WALLIN_MIN_TEMPERATURE <= mean_temperature <= WALLIN_ROWS[-1][0]
    ):
        return 0
    bounds = next(b for top, b in WALLIN_ROWS if mean_temperature <= top)
    return sum(1 for bound in bounds if humid_hours > bound)


def advice(severity_sum: int, rain_favourable_days: int, rain_days: int = 5) -> str:
    """BLITECAST's advice from a 7-day severity sum and the rain-favourable days in it."""
    # the last severity sum of no spray, of a warning, of a 7-day schedule (Krause et al.)
    steps = (3, 4, 6) if rain_favourable_days < rain_days else (2, 3, 4)
    if severity_sum <= steps[0]:
        return "no_spray"
    if severity_sum <= steps[1]:
        return "warning"
    if severity_sum <= steps[2]:
        return "spray_7_day"
    return "spray_5_day"


def _day_severity(day: Day, p: BlitecastParameters) -> tuple[int | None, dict[str, Any]]:
    humid = [h for h in day.known if (h.relative_humidity or 0.0) >= p.humid_rh]
    temps = [h.air_temperature for h in humid if h.air_temperature is not None]
    mean = round(sum(temps) / len(temps), 2) if temps else None
    inputs = {"humid_hours": len(humid), "humid_mean_temperature": mean,
              "missing_hours": day.missing}
    if day.missing:
        return None, inputs
    return wallin_severity(len(humid), mean), inputs


def assess(days: list[Day], parameters: BlitecastParameters | None = None) -> list[DayRisk]:
    """One DayRisk per day from it and the ``window_days - 1`` days before it in ``days``."""
    p = parameters or BlitecastParameters()
    severities: list[int | None] = []
    rain: list[float | None] = []
    out: list[DayRisk] = []
    for i, day in enumerate(days):
        severity, inputs = _day_severity(day, p)
        severities.append(severity)
        rain.append(day.rainfall())
        window = slice(max(0, i - p.window_days + 1), i + 1)
        week = severities[window]
        week_rain = rain[window]
        unknown_days = p.window_days - len(week) + sum(1 for s in week if s is None)
        low_sum = sum(s for s in week if s is not None)
        high_sum = low_sum + 4 * unknown_days
        gauge = all(r is not None for r in week_rain) and len(week_rain) == p.window_days
        favourable = sum(1 for r in week_rain if r is not None and r > p.rain_favourable_mm)
        rain_count = favourable if gauge else p.rain_days
        lowest = advice(low_sum, rain_count, p.rain_days)
        highest = advice(high_sum, rain_count, p.rain_days)
        reason: dict[str, Any] = {
            **inputs, "severity": severity, "severity_sum": low_sum,
            "days_of_unknown_severity": unknown_days,
            "rain_mm": rain[-1], "rain_favourable_days": favourable if gauge else None,
            "rain": "measured" if gauge else "no_rain_gauge_stricter_row",
            "thresholds": p.model_dump(),
        }
        if ADVICE_RISK[lowest] != ADVICE_RISK[highest]:
            out.append(DayRisk(day.date, NAME, "unknown", {**reason, "rule": "missing_hours"}))
            continue
        reason["advice"] = lowest if lowest == highest else None
        out.append(DayRisk(day.date, NAME, ADVICE_RISK[lowest], {**reason, "rule": lowest}))
    return out
