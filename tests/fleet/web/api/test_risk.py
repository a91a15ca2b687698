"""``GET /api/v1/fields/{id}/risk``: readings of a field's nodes through the real writer become
one entry per day and model of the field's crop, in the fixed shape; a node going offline
mid-period leaves the other's readings; a day without readings is unknown, never low; the
field's own parameters are checked and used; other farms' fields are 404."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlmodel import Session

from agrifleet.fleet.devices.tables import DEFAULT_FARM_ID
from agrifleet.fleet.people.tables import Field_
from tests.fleet.conftest import FleetUnderTest
from tests.fleet.device import reading
from tests.fleet.web.api.rows import store_items

DAY0 = date(2026, 7, 1)


def _field(api: FleetUnderTest, crop: str, farm_id: int = DEFAULT_FARM_ID) -> int:
    with Session(api.app.state.engine) as session:
        field = Field_(farm_id=farm_id, name=f"{crop} field", crop=crop)
        session.add(field)
        session.commit()
        assert field.id is not None
        return field.id


def _node(api: FleetUnderTest, device_id: str, field_id: int) -> None:
    api.register(device_id)
    response = api.client.patch(f"/api/v1/devices/{device_id}", headers=api.admin,
                                json={"field_id": field_id})
    assert response.status_code == 200, response.text


def _weather(device_id: str, days: range, temp: float, humid_hours: int) -> list[dict[str, Any]]:
    """One temperature and one RH reading an hour: ``humid_hours`` of RH 95 each day."""
    items, seq = [], 0
    for n in days:
        for hour in range(24):
            ts = datetime(DAY0.year, DAY0.month, DAY0.day, hour, 10, tzinfo=UTC) + timedelta(
                days=n)
            rh = 95.0 if hour < humid_hours else 75.0
            seq += 2
            items.append(reading(1000 * n + seq, temp, "air", "air_temperature", "degC", ts))
            items.append(reading(1000 * n + seq + 1, rh, "air", "relative_humidity", "%", ts))
    return items


def test_a_blight_favourable_field_is_high_with_its_reason(api: FleetUnderTest) -> None:
    field_id = _field(api, "Potato")
    _node(api, "air-a", field_id)
    _node(api, "air-b", field_id)
    # node a reports all three days; node b only the first day (offline mid-period)
    store_items(api.app, "air-a", _weather("air-a", range(3), 12.0, 8))
    store_items(api.app, "air-b", _weather("air-b", range(1), 14.0, 8))
    got = api.get(f"/api/v1/fields/{field_id}/risk", since="2026-07-01", until="2026-07-04")
    assert got["field_id"] == field_id
    assert set(got) == {"field_id", "days"}
    hutton = [d for d in got["days"] if d["model"] == "hutton"]
    assert [(d["date"], d["risk"]) for d in hutton] == [
        ("2026-07-01", "unknown"),  # the day before has no readings: a period may end here
        ("2026-07-02", "high"), ("2026-07-03", "high"),
        ("2026-07-04", "unknown"),  # no readings at all: unknown, never low
    ]
    second = hutton[1]
    assert set(second) == {"date", "model", "risk", "reason"}
    assert second["reason"]["rule"] == "hutton_period"
    assert second["reason"]["min_temperature"] == 12.0  # node a alone after b went offline
    assert second["reason"]["humid_hours"] == 8
    assert hutton[3]["reason"]["missing_hours"] == 24
    models = {d["model"] for d in got["days"]}
    assert models == {"hutton", "smith", "blitecast", "tomcast"}
    assert {d["model"] for d in got["days"] if d["date"] == "2026-07-02"} == models


def test_field_parameters_are_checked_and_used(api: FleetUnderTest) -> None:
    field_id = _field(api, "tomato")
    path = f"/api/v1/fields/{field_id}/risk/parameters"
    bad = api.client.put(f"{path}/tomcast", headers=api.admin, json={"spray_intervall": 15})
    assert bad.status_code == 422 and "spray_intervall" in bad.text
    assert api.client.put(f"{path}/nope", headers=api.admin, json={}).status_code == 404
    ok = api.client.put(f"{path}/tomcast", headers=api.admin, json={"spray_interval": 15})
    assert ok.status_code == 200, ok.text
    assert api.get(path)["tomcast"]["spray_interval"] == 15
    risk = api.get(f"/api/v1/fields/{field_id}/risk", since="2026-07-01", until="2026-07-01")
    (tomcast,) = [d for d in risk["days"] if d["model"] == "tomcast"]
    assert tomcast["reason"]["thresholds"]["spray_interval"] == 15
    assert tomcast["reason"]["wetness_from"] == "relative_humidity"


def test_bad_windows_and_other_farms(api: FleetUnderTest) -> None:
    field_id = _field(api, "rice")
    path = f"/api/v1/fields/{field_id}/risk"
    assert api.client.get(path, headers=api.viewer, params={"since": "2026-07-05",
                                                            "until": "2026-07-01"}
                          ).status_code == 422
    assert api.client.get(path, headers=api.viewer, params={"since": "July"}).status_code == 422
    for edge in ({"since": "0001-01-01", "until": "0001-01-02"}, {"until": "9999-12-31"}):
        response = api.client.get(path, headers=api.viewer, params=edge)
        assert response.status_code == 422 and "only" in response.text
    assert api.client.get(path, headers=api.viewer, params={"since": "2025-01-01",
                                                            "until": "2026-07-01"}
                          ).status_code == 422
    assert len(api.get(path)["days"]) == 14  # default: the last 14 days, rice_blast only
    assert api.client.get("/api/v1/fields/999/risk", headers=api.viewer).status_code == 404
    # (a user of another farm gets a 404 for this field: tests/fleet/web/api/test_scoping.py)
