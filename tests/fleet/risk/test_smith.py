"""Smith Periods as BlightWatch defines them: full (two days ≥ 10 °C, ≥ 11 h RH ≥ 90 %), half
(one day), near miss (two days ≥ 10 °C, one or both with only 10 humid hours)."""

from __future__ import annotations

import pytest

from agrifleet.fleet.risk import smith
from agrifleet.fleet.risk.series import Day
from tests.fleet.risk.weather import day


@pytest.mark.parametrize(
    ("days", "expected", "rules"),
    [
        ([day(0, temp=12, humid_hours=11), day(1, temp=10.0, humid_hours=11)],
         ["unknown", "high"], ["day_before_unknown", "full_smith_period"]),
        ([day(0, temp=12, humid_hours=10), day(1, temp=12, humid_hours=11)],
         ["unknown", "moderate"], ["day_before_unknown", "near_miss"]),
        ([day(0, temp=12, humid_hours=11), day(1, temp=12, humid_hours=10)],
         ["unknown", "moderate"], ["day_before_unknown", "near_miss"]),
        ([day(0, temp=12, humid_hours=10), day(1, temp=12, humid_hours=10)],
         ["unknown", "moderate"], ["day_before_unknown", "near_miss"]),
        ([day(0, temp=9, humid_hours=20), day(1, temp=12, humid_hours=11)],
         ["low", "moderate"], ["criteria_not_met", "half_smith_period"]),
        ([day(0, temp=9, humid_hours=20), day(1, temp=12, humid_hours=10)],
         ["low", "low"], ["criteria_not_met", "criteria_not_met"]),
        ([day(0, temp=12, humid_hours=9), day(1, temp=12, humid_hours=24)],
         ["low", "moderate"], ["criteria_not_met", "half_smith_period"]),
    ],
)
def test_smith_table(days: list[Day], expected: list[str], rules: list[str]) -> None:
    result = smith.assess(days)
    assert [r.risk for r in result] == expected
    assert [r.reason["rule"] for r in result] == rules


def test_missing_hours_leave_a_smith_day_open() -> None:
    days = [day(0, temp=12, humid_hours=11), day(1, temp=12, humid_hours=11, missing=2)]
    assert [r.risk for r in smith.assess(days)] == ["unknown", "unknown"]
