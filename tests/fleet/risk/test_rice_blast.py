"""Rice blast: favourable days (night minimum 20-26 °C and >= 10 wet or humid hours) counted in
a row: three for moderate, a week for high; a cool night or a dry day breaks the run."""

from __future__ import annotations

from agrifleet.fleet.risk import rice_blast
from tests.fleet.risk.weather import day


def test_a_humid_week_of_warm_nights_is_high_on_its_seventh_day() -> None:
    days = [day(n, temp=22.0, humid_hours=12) for n in range(8)]
    result = rice_blast.assess(days)
    assert [r.risk for r in result] == ["low", "low", "moderate", "moderate", "moderate",
                                        "moderate", "high", "high"]
    assert result[6].reason["favourable_days_in_a_row"] == 7
    assert result[0].reason["wetness_from"] == "relative_humidity"


def test_edges_of_the_night_temperature_range_and_the_wet_hours() -> None:
    assert rice_blast.assess([day(0, temp=20.0, humid_hours=10)])[0].reason["favourable"]
    assert rice_blast.assess([day(0, temp=26.0, humid_hours=10)])[0].reason["favourable"]
    assert not rice_blast.assess([day(0, temp=19.9, humid_hours=10)])[0].reason["favourable"]
    assert not rice_blast.assess([day(0, temp=26.1, humid_hours=24)])[0].reason["favourable"]
    assert not rice_blast.assess([day(0, temp=22.0, humid_hours=9)])[0].reason["favourable"]


def test_a_cool_night_breaks_the_run_and_a_leaf_wetness_sensor_is_used_when_there() -> None:
    days = [day(n, temp=22.0, humid_hours=12) for n in range(3)] + [
        day(3, temp=[18.0] + [22.0] * 23, humid_hours=12)]
    assert [r.risk for r in rice_blast.assess(days)][-2:] == ["moderate", "low"]
    wet = [100.0 if i < 11 else 0.0 for i in range(24)]
    sensed = rice_blast.assess([day(0, temp=22.0, rh=60.0, wet=wet)])[0]
    assert (sensed.reason["favourable"], sensed.reason["wetness_from"]) == (
        True, "leaf_wetness_sensor")


def test_missing_hours_leave_the_run_open() -> None:
    days = [day(n, temp=22.0, humid_hours=12) for n in range(2)] + [
        day(2, temp=22.0, humid_hours=12, missing=3)]
    assert [r.risk for r in rice_blast.assess(days)] == ["low", "low", "unknown"]
