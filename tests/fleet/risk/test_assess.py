"""A field's risk from the writer's hourly rollups: a node reporting every five minutes weighs
no more than one reporting hourly, and hours after the moment asked about are missing even
when the rollups hold readings for them (a node with a clock ahead)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlmodel import Session

from agrifleet.fleet.people.tables import Field_
from agrifleet.fleet.risk.assess import field_risk, hourly_samples
from tests.fleet.conftest import FleetUnderTest
from tests.fleet.device import reading
from tests.fleet.web.api.rows import store_items
from tests.fleet.web.api.test_risk import DAY0, _field, _node, _weather

MIDNIGHT = datetime(DAY0.year, DAY0.month, DAY0.day, tzinfo=UTC)


def every_five_minutes(hours: int, temp: float) -> list[dict[str, Any]]:
    return [reading(10_000 + i, temp, "air", "air_temperature", "degC",
                    MIDNIGHT + timedelta(minutes=5 * i)) for i in range(12 * hours)]


def test_each_node_hour_is_one_sample_however_often_the_node_reported(
        api: FleetUnderTest) -> None:
    field_id = _field(api, "Potato")
    _node(api, "air-a", field_id)
    _node(api, "air-b", field_id)
    store_items(api.app, "air-a", every_five_minutes(2, 10.0))  # 24 readings at 10 °C
    store_items(api.app, "air-b", [reading(1, 20.0, "air", "air_temperature", "degC",
                                           MIDNIGHT + timedelta(minutes=30))])
    with Session(api.app.state.engine) as session:
        got = hourly_samples(session, field_id, MIDNIGHT, MIDNIGHT + timedelta(hours=2))
    per_node = sorted((s.device_id, s.ts.hour, s.value, s.unit) for s in got)
    assert per_node == [("air-a", 0, 10.0, "degC"), ("air-a", 1, 10.0, "degC"),
                        ("air-b", 0, 20.0, "degC")]


def test_hours_not_over_by_now_are_missing_whatever_the_rollups_hold(api: FleetUnderTest) -> None:
    field_id = _field(api, "Potato")
    _node(api, "air-a", field_id)
    store_items(api.app, "air-a", _weather("air-a", range(2), 12.0, 8))
    with Session(api.app.state.engine) as session:
        field = session.get(Field_, field_id)
        assert field is not None
        whole = field_risk(session, field, DAY0, DAY0 + timedelta(days=1))
        noon = MIDNIGHT + timedelta(days=1, hours=12)
        asked = field_risk(session, field, DAY0, DAY0 + timedelta(days=1), now=noon)
        eleven_pm = MIDNIGHT + timedelta(days=1, hours=23, minutes=10)
        late = field_risk(session, field, DAY0, DAY0 + timedelta(days=1), now=eleven_pm)
    second = [d for d in whole if d.model == "hutton"][1]
    assert (second.risk, second.reason["missing_hours"]) == ("high", 0)
    at_noon = [d for d in asked if d.model == "hutton"][1]
    assert at_noon.risk == "unknown" and at_noon.reason["missing_hours"] == 12  # 12:00 to 23:59
    at_eleven_pm = [d for d in late if d.model == "hutton"][1]
    assert at_eleven_pm.risk == "unknown" and at_eleven_pm.reason["missing_hours"] == 1
