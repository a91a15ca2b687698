"""The field kinds: a ``risk`` rule opens one alert for a field whose model reached the level
(its reason in the params), keeps it open while the data are missing and clears it once the last
whole day is below; a ``disease_spread`` rule opens one when the same disease is on N nodes of a
field within the window and clears when the window passes; members of the field's farm see
these alerts, other farms do not."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from agrifleet.fleet.devices.tables import DEFAULT_FARM_ID
from tests.fleet.alerts.conftest import AlertFleet
from tests.fleet.device import detection
from tests.fleet.people.auth.people import add_farm, add_user, bearer, personal_token
from tests.fleet.web.api.test_risk import DAY0, _field, _node, _weather

AFTER = datetime(DAY0.year, DAY0.month, DAY0.day, tzinfo=UTC)


def test_risk_rule_opens_once_keeps_open_on_missing_data_and_clears(
        alerting: AlertFleet) -> None:
    fleet = alerting.fleet
    field_id = _field(fleet, "potato")
    _node(fleet, "air-a", field_id)
    alerting.store("air-a", _weather("air-a", range(2), 12.0, 8))  # days 0 and 1: Hutton
    rule = alerting.rule(kind="risk", model="hutton", field_id=field_id)
    assert (rule["min_risk"], rule["farm_id"]) == ("high", DEFAULT_FARM_ID)

    tick = alerting.evaluate(AFTER + timedelta(days=2, hours=6))  # yesterday = day 1: high
    [alert_id] = tick.opened
    [alert] = alerting.alerts()
    assert (alert["code"], alert["device_id"], alert["field_id"]) == (
        "disease_risk", "", field_id)
    params = alert["params"]
    assert (params["model"], params["disease"], params["risk"], params["date"]) == (
        "hutton", "late_blight", "high", "2026-07-02")
    assert params["reason"]["rule"] == "hutton_period"

    again = alerting.evaluate(AFTER + timedelta(days=2, hours=7))
    assert again.opened == [] and again.cleared == []  # one alert per condition
    # day 2 has no readings: yesterday unknown on day 3, the alert stays open
    assert alerting.evaluate(AFTER + timedelta(days=3, hours=6)).cleared == []
    # day 3 is cold: the last whole day is low on day 4, the alert clears
    alerting.store("air-a", [{**r, "seq": r["seq"] + 50000}
                             for r in _weather("air-a", range(3, 4), 6.0, 20)])
    assert alerting.evaluate(AFTER + timedelta(days=4, hours=6)).cleared == [alert_id]


def test_risk_rule_fields_are_checked(alerting: AlertFleet) -> None:
    client, tech = alerting.client, alerting.technician
    for body, status, text in [
        ({"kind": "risk", "model": "guesscast"}, 422, "unknown risk model"),
        ({"kind": "risk", "max_backlog": 1}, 422, "does not take max_backlog"),
        ({"kind": "risk", "min_risk": "low"}, 422, "Input should be"),
        ({"kind": "risk", "field_id": 9999}, 404, "unknown field"),
        ({"kind": "disease_spread", "min_nodes": 0}, 422, "greater than or equal to 1"),
    ]:
        response = client.post("/api/v1/alert-rules", headers=tech, json=body)
        assert response.status_code == status and text in response.text, response.text
    spread = alerting.rule(kind="disease_spread")
    assert (spread["min_nodes"], spread["window_s"], spread["min_confidence"]) == (
        2, 604800, 0.8)


def test_disease_spread_needs_n_nodes_of_one_field_within_the_window(
        alerting: AlertFleet) -> None:
    fleet = alerting.fleet
    field_id = _field(fleet, "tomato")
    other = _field(fleet, "potato")
    for node, field in (("leaf-1", field_id), ("leaf-2", field_id), ("leaf-9", other)):
        _node(fleet, node, field)
    alerting.rule(kind="disease_spread", min_nodes=2)
    now = datetime(2026, 6, 1, 13, 0, tzinfo=UTC)  # detections are at 12:00 that day
    alerting.store("leaf-1", [detection(1), detection(2)])
    alerting.store("leaf-9", [detection(1)])  # another field: does not add up
    assert alerting.evaluate(now).opened == []
    alerting.store("leaf-2", [detection(3, label="Tomato___Early_blight")])  # another disease
    assert alerting.evaluate(now).opened == []
    alerting.store("leaf-2", [detection(4)])
    [alert_id] = alerting.evaluate(now).opened
    [alert] = alerting.alerts()
    assert alert["code"] == "disease_spreading" and alert["field_id"] == field_id
    assert alert["params"]["nodes"] == ["leaf-1", "leaf-2"]
    assert alert["params"]["label"] == "Tomato___Late_blight"
    assert alerting.evaluate(now + timedelta(days=8)).cleared == [alert_id]


@pytest.mark.parametrize("member", [True, False])
def test_a_fields_alert_is_seen_by_its_farm_only(alerting: AlertFleet, member: bool) -> None:
    fleet = alerting.fleet
    engine = fleet.app.state.engine
    field_id = _field(fleet, "tomato")
    for node in ("leaf-1", "leaf-2"):
        _node(fleet, node, field_id)
        alerting.store(node, [detection(1)])
    alerting.rule(kind="disease_spread", field_id=field_id)
    [alert_id] = alerting.evaluate(datetime(2026, 6, 1, 13, 0, tzinfo=UTC)).opened
    farm = DEFAULT_FARM_ID if member else add_farm(engine, "Farm Other")
    user = add_user(engine, f"viewer{int(member)}@example.org", {farm: "viewer"})
    headers = bearer(personal_token(engine, user)[1])
    listed = fleet.client.get("/api/v1/alerts", headers=headers).json()
    one = fleet.client.get(f"/api/v1/alerts/{alert_id}", headers=headers)
    assert ([a["id"] for a in listed] == [alert_id]) is member
    assert one.status_code == (200 if member else 404)
