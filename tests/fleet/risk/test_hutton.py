"""Hutton Criteria as a table of days → daily risk, with the edges: exactly 6 humid hours,
exactly 10 °C, a day with missing hours (undecided unless the known hours settle it)."""

from __future__ import annotations

import pytest

from agrifleet.fleet.risk import hutton
from agrifleet.fleet.risk.series import Day
from tests.fleet.risk.weather import day


def risks(days: list[Day]) -> list[str]:
    return [r.risk for r in hutton.assess(days)]


@pytest.mark.parametrize(
    ("days", "expected"),
    [
        # two days each >= 10 °C with >= 6 h at RH >= 90 %: the second completes a period
        ([day(0, temp=12, humid_hours=8), day(1, temp=12, humid_hours=8)],
         ["unknown", "high"]),
        # exactly 6 h and exactly 10 °C both count
        ([day(0, temp=10.0, humid_hours=6), day(1, temp=10.0, humid_hours=6)],
         ["unknown", "high"]),
        # 5 h is not enough: low, and the next day is one day met (moderate)
        ([day(0, temp=12, humid_hours=5), day(1, temp=12, humid_hours=6)],
         ["low", "moderate"]),
        # one hour at 9.9 °C fails the day
        ([day(0, temp=[9.9] + [14.0] * 23, humid_hours=10), day(1, temp=12, humid_hours=10)],
         ["low", "moderate"]),
        # RH of exactly 90 % is humid; 89.9 % is not
        ([day(0, temp=12, rh=[90.0] * 6 + [70.0] * 18), day(1, temp=12, rh=[89.9] * 24)],
         ["unknown", "low"]),
    ],
)
def test_hutton_table(days: list[Day], expected: list[str]) -> None:
    assert risks(days) == expected


def test_a_day_with_missing_hours_is_unknown_never_low() -> None:
    days = [day(0, temp=12, humid_hours=8), day(1, temp=12, humid_hours=8, missing=3),
            day(2, temp=12, humid_hours=8)]
    result = hutton.assess(days)
    assert [r.risk for r in result] == ["unknown", "unknown", "unknown"]
    assert result[1].reason["rule"] == "missing_hours"
    assert result[1].reason["missing_hours"] == 3
    assert result[2].reason["rule"] == "day_before_unknown"


def test_missing_hours_do_not_hide_a_cold_hour_or_too_few_humid_hours() -> None:
    cold = day(1, temp=[8.0] + [14.0] * 23, humid_hours=12, missing=4)
    dry = day(2, temp=14, humid_hours=1, missing=4)  # 1 + 4 missing < 6: cannot reach it
    assert risks([day(0, temp=12, humid_hours=8), cold, dry]) == ["unknown", "low", "low"]


def test_the_reason_names_the_inputs_and_thresholds() -> None:
    (_, second) = hutton.assess([day(0, temp=11, humid_hours=7), day(1, temp=10.5,
                                                                      humid_hours=9)])
    assert second.reason == {
        "rule": "hutton_period", "min_temperature": 10.5, "humid_hours": 9,
        "missing_hours": 0, "previous_day_met": True,
        "thresholds": {"min_temperature": 10.0, "humid_rh": 90.0, "humid_hours": 6},
    }
