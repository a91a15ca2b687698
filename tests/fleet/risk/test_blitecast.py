"""BLITECAST: Wallin's severity values at the table's edges, the spray advice table, and a week
of hourly weather → daily advice, with and without a rain gauge and with a day missing."""

from __future__ import annotations

import pytest

from agrifleet.fleet.risk import blitecast
from tests.fleet.risk.weather import day


@pytest.mark.parametrize(
    ("hours", "mean", "severity"),
    [
        (15, 10.0, 0), (16, 10.0, 1), (19, 10.0, 2), (22, 10.0, 3), (24, 11.6, 3),
        (12, 13.0, 0), (13, 13.0, 1), (16, 15.0, 2), (19, 15.0, 3), (22, 15.0, 4),
        (9, 20.0, 0), (10, 20.0, 1), (13, 20.0, 2), (16, 20.0, 3), (19, 26.6, 4),
        (12, 11.7, 0), (13, 11.7, 1),  # 11.7 °C is the second row
        (24, 7.1, 0), (24, 26.7, 0),  # outside 7.2-26.6 °C: no severity
        (0, None, 0),
    ],
)
def test_wallin_severity_values(hours: int, mean: float | None, severity: int) -> None:
    assert blitecast.wallin_severity(hours, mean) == severity


@pytest.mark.parametrize(
    ("total", "rain_days", "advice"),
    [
        (3, 4, "no_spray"), (4, 4, "warning"), (5, 4, "spray_7_day"), (6, 4, "spray_7_day"),
        (7, 4, "spray_5_day"),
        (2, 5, "no_spray"), (3, 5, "warning"), (4, 5, "spray_7_day"), (5, 7, "spray_5_day"),
    ],
)
def test_spray_advice_table(total: int, rain_days: int, advice: str) -> None:
    assert blitecast.advice(total, rain_days) == advice


def test_a_week_of_humid_warm_days_turns_to_a_five_day_schedule() -> None:
    # 14 h of RH >= 90 % at 18 °C: severity 2 a day; dry days (no rain-favourable day)
    week = [day(n, temp=18.0, humid_hours=14, rain=0.0) for n in range(7)]
    result = blitecast.assess(week)
    assert [r.reason["severity"] for r in result] == [2] * 7
    # the first days have days before the series in their window: undecided while those
    # could still change the advice (from day 1 a sum of 4 is a schedule in the stricter row
    # that an incomplete week of rain readings is held to)
    assert [r.risk for r in result] == ["unknown"] + ["high"] * 6
    assert result[-1].reason["severity_sum"] == 14
    assert result[-1].reason["advice"] == "spray_5_day"
    assert result[-1].reason["rain"] == "measured"
    assert result[-1].reason["rain_favourable_days"] == 0


def test_rain_favourable_days_use_the_stricter_row() -> None:
    # severity 1 a day for 3 days in the week, 0 the rest: a sum of 3
    week = [day(n, temp=20.0, humid_hours=10 if n >= 4 else 0, rain=5.0) for n in range(7)]
    assert blitecast.assess(week)[-1].reason["advice"] == "warning"  # 5+ rain days: 3 → warning
    dry = [day(n, temp=20.0, humid_hours=10 if n >= 4 else 0, rain=0.0) for n in range(7)]
    assert blitecast.assess(dry)[-1].reason["advice"] == "no_spray"


def test_without_a_rain_gauge_the_stricter_row_is_assumed_and_said() -> None:
    week = [day(n, temp=20.0, humid_hours=10 if n >= 4 else 0) for n in range(7)]
    last = blitecast.assess(week)[-1]
    assert (last.risk, last.reason["rain"]) == ("moderate", "no_rain_gauge_stricter_row")


def test_a_day_with_missing_hours_makes_the_week_unknown_unless_it_cannot_matter() -> None:
    week = [day(n, temp=12.0, humid_hours=0, rain=0.0) for n in range(7)]
    week[6] = day(6, temp=12.0, humid_hours=0, rain=0.0, missing=2)
    assert blitecast.assess(week)[-1].risk == "unknown"  # 0 .. 4: no spray or warning
    hot = [day(n, temp=20.0, humid_hours=24, rain=0.0) for n in range(7)]
    hot[6] = day(6, temp=20.0, humid_hours=22, rain=0.0, missing=2)
    assert blitecast.assess(hot)[-1].risk == "high"  # 24 already: a schedule either way
