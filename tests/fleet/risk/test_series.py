"""Hourly series of a field: the mean of its nodes per hour (each node averaged in the hour
first), rainfall summed per node, 0/1 wetness as %, hours without data left empty, and a node
going offline mid-period leaving the other's figures, not a gap."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from agrifleet.fleet.risk.series import Sample, days, hourly

T0 = datetime(2026, 7, 1, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def test_nodes_are_averaged_per_hour_each_node_once() -> None:
    samples = [
        Sample("a", at(5), "air_temperature", 10.0, "degC"),
        Sample("a", at(35), "air_temperature", 12.0, "degC"),  # node a: 11
        Sample("b", at(10), "air_temperature", 15.0, "degC"),  # node b: 15, one reading
        Sample("a", at(5), "rainfall", 0.4, "mm"),
        Sample("a", at(35), "rainfall", 0.2, "mm"),  # node a: 0.6 mm in the hour
        Sample("b", at(20), "rainfall", 0.4, "mm"),
        Sample("b", at(20), "leaf_wetness", 1.0, ""),  # wet/dry sensor: 100 %
        Sample("b", at(20), "soil_moisture", 30.0, "%"),  # not a weather quantity
    ]
    (hour,) = hourly(samples, T0, T0 + timedelta(hours=1))
    assert hour.air_temperature == 13.0
    assert hour.rainfall == 0.5
    assert hour.leaf_wetness == 100.0
    assert hour.relative_humidity is None
    assert hour.nodes == 2


def test_hours_without_data_are_marked_not_filled() -> None:
    samples = [Sample("a", at(0), "air_temperature", 10.0), Sample("a", at(0),
                                                                    "relative_humidity", 95.0),
               Sample("a", at(180), "air_temperature", 14.0)]
    hours = hourly(samples, T0, T0 + timedelta(hours=4))
    assert [h.air_temperature for h in hours] == [10.0, None, None, 14.0]
    assert [h.weather_known for h in hours] == [True, False, False, False]
    (day,) = days(hours)
    assert day.missing == 23  # the hours after the series are missing too


def test_a_node_going_offline_mid_period_leaves_the_others_mean() -> None:
    samples = []
    for h in range(6):
        samples.append(Sample("a", at(60 * h + 1), "relative_humidity", 92.0))
        samples.append(Sample("a", at(60 * h + 1), "air_temperature", 12.0))
        if h < 3:  # node b goes offline after three hours
            samples.append(Sample("b", at(60 * h + 2), "relative_humidity", 96.0))
            samples.append(Sample("b", at(60 * h + 2), "air_temperature", 14.0))
    hours = hourly(samples, T0, T0 + timedelta(hours=6))
    assert [h.relative_humidity for h in hours] == [94.0] * 3 + [92.0] * 3
    assert [h.nodes for h in hours] == [2, 2, 2, 1, 1, 1]
    assert all(h.weather_known for h in hours)
