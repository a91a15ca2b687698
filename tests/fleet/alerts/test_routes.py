"""The alert routes: rules are a technician's to create, change and delete (with each kind's
fields and no others); anyone may acknowledge an alert, only a technician clears one; the list
filters by state, device and kind and pages like the other lists."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.fleet.alerts.conftest import AlertFleet
from tests.fleet.device import detection

NOW = datetime(2026, 6, 1, 13, 0, tzinfo=UTC)


@pytest.mark.parametrize(("body", "message"), [
    ({"kind": "reading_range", "min_value": 1}, "needs quantity"),
    ({"kind": "reading_range", "quantity": "moisture"}, "needs min_value, max_value"),
    ({"kind": "backlog"}, "needs max_backlog"),
    ({"kind": "offline", "max_backlog": 3}, "does not take max_backlog"),
    ({"kind": "disease", "quantity": "moisture"}, "does not take quantity"),
    ({"kind": "disease", "min_confidence": 1.5}, "less than or equal to 1"),
    ({"kind": "flood"}, "Input should be"),
    ({"kind": "offline", "colour": "red"}, "Extra inputs"),
])
def test_a_rule_takes_its_kinds_fields_only(alerting: AlertFleet, body: dict[str, object],
                                            message: str) -> None:
    response = alerting.client.post("/api/v1/alert-rules", headers=alerting.technician,
                                    json=body)
    assert response.status_code == 422, response.text
    assert message in response.text


def test_the_schema_says_what_each_kind_takes(alerting: AlertFleet) -> None:
    schema = alerting.fleet.app.openapi()["components"]["schemas"]["AlertRuleCreate"]
    kinds = {one["properties"]["kind"]["const"]: one for one in schema["oneOf"]}
    assert set(kinds) == {"disease", "reading_range", "offline", "backlog", "risk",
                          "disease_spread"}
    assert kinds["offline"]["properties"]["max_backlog"] == {"type": "null"}
    assert kinds["backlog"]["required"] == ["kind", "max_backlog"]
    # min_value above max_value is a rule that fires on any reading, not a refusal
    body = {"kind": "reading_range", "quantity": "moisture", "min_value": 5, "max_value": 1}
    made = alerting.client.post("/api/v1/alert-rules", headers=alerting.technician, json=body)
    assert made.status_code == 201, made.text


def test_rules_are_for_technicians_to_write_and_anyone_to_read(alerting: AlertFleet) -> None:
    viewer = alerting.fleet.viewer
    body = {"kind": "offline", "name": "nodes away"}
    assert alerting.client.post("/api/v1/alert-rules", headers=viewer, json=body
                                ).status_code == 403
    rule = alerting.rule(**body)
    assert rule["created_by"].endswith("(technician)")
    assert alerting.fleet.get("/api/v1/alert-rules") == [rule]
    path = f"/api/v1/alert-rules/{rule['id']}"
    assert alerting.client.patch(path, headers=viewer, json={"name": "x"}).status_code == 403
    assert alerting.client.delete(path, headers=viewer).status_code == 403
    changed = alerting.client.patch(path, headers=alerting.technician, json={"name": "away"})
    assert changed.status_code == 200 and changed.json()["name"] == "away"
    kept = alerting.client.patch(path, headers=alerting.technician,
                                 json={"name": None, "enabled": None})
    assert kept.status_code == 200 and kept.json()["name"] == "away" and kept.json()["enabled"]
    refused = alerting.client.patch(path, headers=alerting.technician, json={"max_backlog": 1})
    assert refused.status_code == 422 and "does not take max_backlog" in refused.text
    assert alerting.client.delete(path, headers=alerting.technician).status_code == 204
    assert alerting.client.get(path, headers=viewer).status_code == 404


def test_acknowledge_and_clear(alerting: AlertFleet) -> None:
    alerting.fleet.register("leaf-1")
    alerting.rule(kind="disease")
    alerting.store("leaf-1", [detection(1)])
    [alert_id] = alerting.evaluate(NOW).opened
    path = f"/api/v1/alerts/{alert_id}"
    viewer, technician = alerting.fleet.viewer, alerting.technician

    ack = alerting.client.post(f"{path}/acknowledge", headers=viewer)
    assert ack.status_code == 200
    first = ack.json()
    assert first["state"] == "acknowledged" and first["acknowledged_by"].endswith("(viewer)")
    again = alerting.client.post(f"{path}/acknowledge", headers=technician).json()
    assert again["acknowledged_by"] == first["acknowledged_by"]  # the first one is kept
    assert again["acknowledged_at"] == first["acknowledged_at"]

    assert alerting.client.post(f"{path}/clear", headers=viewer).status_code == 403
    cleared = alerting.client.post(f"{path}/clear", headers=technician)
    assert cleared.status_code == 200
    assert cleared.json()["cleared_reason"] == "by_hand"
    assert cleared.json()["cleared_by"].endswith("(technician)")
    assert alerting.client.post(f"{path}/clear", headers=technician).status_code == 409
    assert alerting.client.post(f"{path}/acknowledge", headers=viewer).status_code == 409
    assert alerting.client.post("/api/v1/alerts/999/acknowledge",
                                headers=viewer).status_code == 404


def test_the_list_filters_and_pages(alerting: AlertFleet) -> None:
    for device in ("leaf-1", "leaf-2"):
        alerting.fleet.register(device)
    alerting.rule(kind="disease")
    alerting.rule(kind="backlog", max_backlog=10)
    alerting.store("leaf-1", [detection(1)])
    alerting.store("leaf-2", [detection(1)])
    alerting.status("leaf-2", outbox_depth=50)
    opened = alerting.evaluate(NOW).opened
    assert len(opened) == 3
    alerting.client.post(f"/api/v1/alerts/{opened[0]}/clear", headers=alerting.technician)

    assert len(alerting.alerts()) == 3
    assert len(alerting.alerts(state="open")) == 2
    assert [a["id"] for a in alerting.alerts(state="cleared")] == [opened[0]]
    assert {a["device_id"] for a in alerting.alerts(device="leaf-2")} == {"leaf-2"}
    assert [a["kind"] for a in alerting.alerts(kind="backlog")] == ["backlog"]
    page = alerting.alerts(limit=2) + alerting.alerts(limit=2, offset=2)
    assert sorted(a["id"] for a in page) == sorted(opened)
    bad = alerting.client.get("/api/v1/alerts", headers=alerting.fleet.viewer,
                              params={"state": "gone"})
    assert bad.status_code == 422


def test_changing_a_rule_clears_its_alerts_which_reopen_if_still_true(
        alerting: AlertFleet) -> None:
    alerting.fleet.register("node-1")
    rule = alerting.rule(kind="backlog", max_backlog=10)
    alerting.status("node-1", outbox_depth=50)
    [first] = alerting.evaluate().opened
    response = alerting.client.patch(f"/api/v1/alert-rules/{rule['id']}",
                                     headers=alerting.technician, json={"max_backlog": 20})
    assert response.status_code == 200 and response.json()["max_backlog"] == 20
    assert alerting.fleet.get(f"/api/v1/alerts/{first}")["cleared_reason"] == "rule_changed"
    [second] = alerting.evaluate().opened
    assert second != first
    disabled = alerting.client.patch(f"/api/v1/alert-rules/{rule['id']}",
                                     headers=alerting.technician, json={"enabled": False})
    assert disabled.status_code == 200
    assert alerting.evaluate(datetime.now(UTC) + timedelta(minutes=1)).opened == []
    assert alerting.alerts(state="open") == []
