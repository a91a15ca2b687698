"""TOMCAST: the severity value table at its edges, daily values summed since the last spray to
the interval (default 20, settable), and RH > 90 % standing in for a missing wetness sensor."""

from __future__ import annotations

from datetime import date

import pytest

from agrifleet.fleet.risk import tomcast
from agrifleet.fleet.risk.series import Day
from tests.fleet.risk.weather import START, day


@pytest.mark.parametrize(
    ("hours", "mean", "dsv"),
    [
        (6, 15.0, 0), (7, 15.0, 1), (15, 15.0, 1), (16, 15.0, 2), (21, 15.0, 3), (24, 17.0, 3),
        (3, 19.0, 0), (4, 19.0, 1), (9, 19.0, 2), (16, 19.0, 3), (23, 19.0, 4),
        (2, 23.0, 0), (3, 23.0, 1), (6, 23.0, 2), (13, 23.0, 3), (21, 23.0, 4),
        (23, 27.0, 4), (22, 29.0, 3),
        (24, 12.4, 0), (7, 12.5, 1),  # 12.5 rounds to 13 °C, in the table
        (24, 29.6, 0),  # 30 °C: outside the table
    ],
)
def test_severity_value_table(hours: int, mean: float, dsv: int) -> None:
    assert tomcast.severity_value(hours, mean) == dsv


def _wet_day(n: int, wet_hours: int, temp: float = 22.0, missing: int = 0) -> Day:
    wet = [100.0] * wet_hours + [0.0] * (24 - wet_hours)
    return day(n, temp=temp, rh=70.0, wet=wet, missing=missing)


def test_values_are_summed_to_the_spray_interval() -> None:
    days = [_wet_day(n, 13) for n in range(8)]  # DSV 3 a day at 22 °C
    result = tomcast.assess(days)
    assert [r.reason["severity_sum"] for r in result] == [3, 6, 9, 12, 15, 18, 21, 24]
    assert [r.risk for r in result] == ["low"] * 4 + ["moderate"] * 2 + ["high"] * 2
    assert result[0].reason["wetness_from"] == "leaf_wetness_sensor"


def test_a_smaller_interval_and_the_last_spray_come_from_the_field() -> None:
    days = [_wet_day(n, 13) for n in range(8)]
    sprayed = START.replace(day=START.day + 3)
    params = tomcast.TomcastParameters(spray_interval=9, last_spray=sprayed)
    result = tomcast.assess(days, params)
    assert [r.reason["severity_sum"] for r in result] == [0, 0, 0, 0, 3, 6, 9, 12]
    assert [r.risk for r in result][-2:] == ["high", "high"]
    assert result[-1].reason["since"] == sprayed.isoformat()


def test_without_a_wetness_sensor_humid_hours_count_and_it_is_said() -> None:
    days = [day(n, temp=22.0, rh=[95.0] * 13 + [80.0] * 11) for n in range(2)]
    result = tomcast.assess(days)
    assert result[0].reason["wetness_from"] == "relative_humidity"
    assert result[0].reason["severity"] == 3
    exactly_90 = tomcast.assess([day(0, temp=22.0, rh=90.0)])[0]
    assert exactly_90.reason["wet_hours"] == 0  # "above 90 %": 90 itself is not


def test_missing_hours_give_unknown_until_the_sum_is_past_the_interval() -> None:
    days = [_wet_day(0, 13), _wet_day(1, 13, missing=5)]
    assert [r.risk for r in tomcast.assess(days)] == ["low", "low"]  # 3 + at most 4 < 15
    days = [_wet_day(n, 13) for n in range(4)] + [_wet_day(4, 13, missing=5)]
    assert [r.risk for r in tomcast.assess(days)][-1] == "unknown"  # 12 + 0..4: low or not
    full = [_wet_day(n, 21) for n in range(5)] + [_wet_day(5, 21, missing=5)]
    assert tomcast.assess(full)[-1].risk == "high"  # 20 already: the missing day cannot lower it


def test_parameters_refuse_typos() -> None:
    with pytest.raises(ValueError, match="spray_intervall"):
        tomcast.TomcastParameters.model_validate({"spray_intervall": 15})
    assert tomcast.TomcastParameters.model_validate({"last_spray": "2026-07-02"}).last_spray == (
        date(2026, 7, 2))
