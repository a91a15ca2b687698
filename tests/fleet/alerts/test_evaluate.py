"""The evaluator opens one alert per (rule, device, condition), counts repeats on it instead
of opening more, clears it when the condition is gone, and knows each kind of condition:
disease above a confidence, a reading out of range for long enough, a node offline, a
backlog."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlmodel import Session, select

from agrifleet.fleet.alerts.tables import Alert
from tests.fleet.alerts.conftest import AlertFleet
from tests.fleet.device import detection, reading

NOW = datetime(2026, 6, 1, 13, 0, tzinfo=UTC)


def test_repeated_detections_make_one_alert_whose_count_grows(alerting: AlertFleet) -> None:
    alerting.fleet.register("leaf-1")
    rule = alerting.rule(kind="disease", name="blight")
    assert rule["min_confidence"] == 0.8 and rule["quiet_s"] == 3600
    alerting.store("leaf-1", [detection(1), detection(2)])
    first = alerting.evaluate(NOW)
    assert len(first.opened) == 1 and not first.repeated
    alerting.store("leaf-1", [detection(3)])
    second = alerting.evaluate(NOW + timedelta(minutes=5))
    assert second.opened == [] and second.repeated == first.opened
    assert alerting.evaluate(NOW + timedelta(minutes=6)).repeated == []  # nothing new

    [alert] = alerting.alerts()
    assert alert["code"] == "disease_detected" and alert["state"] == "active"
    assert alert["count"] == 3 and alert["device_id"] == "leaf-1"
    assert alert["params"]["label"] == "Tomato___Late_blight"
    assert alert["params"]["crop"] == "Tomato" and alert["params"]["disease"] == "Late blight"
    assert alert["params"]["confidence"] == 0.93
    assert alert["first_seen"].startswith("2026-06-01T13:00")
    assert alert["last_seen"].startswith("2026-06-01T13:05")


def test_low_confidence_uncertain_and_healthy_detections_raise_nothing(
        alerting: AlertFleet) -> None:
    alerting.fleet.register("leaf-1")
    alerting.rule(kind="disease", min_confidence=0.95)
    low = detection(1)
    healthy = {**detection(2, label="Tomato___healthy"), "confidence": 0.99}
    unsure = {**detection(3), "confidence": 0.99, "uncertain": True, "label": "uncertain"}
    alerting.store("leaf-1", [low, healthy, unsure])
    assert alerting.evaluate(NOW).opened == []
    alerting.store("leaf-1", [{**detection(4), "confidence": 0.97}])
    assert len(alerting.evaluate(NOW).opened) == 1


def test_two_diseases_or_two_devices_are_two_alerts(alerting: AlertFleet) -> None:
    for device in ("leaf-1", "leaf-2"):
        alerting.fleet.register(device)
    alerting.rule(kind="disease")
    alerting.store("leaf-1", [detection(1), detection(2, label="Tomato___Early_blight")])
    alerting.store("leaf-2", [detection(1)])
    assert len(alerting.evaluate(NOW).opened) == 3
    assert {(a["device_id"], a["condition"]) for a in alerting.alerts()} == {
        ("leaf-1", "Tomato___Late_blight"), ("leaf-1", "Tomato___Early_blight"),
        ("leaf-2", "Tomato___Late_blight")}


def test_a_disease_rule_reads_detections_from_its_creation_on(alerting: AlertFleet) -> None:
    alerting.fleet.register("leaf-1")
    alerting.store("leaf-1", [detection(1)])
    alerting.rule(kind="disease")
    assert alerting.evaluate(NOW).opened == []


def test_an_acknowledged_disease_alert_clears_after_its_quiet_period(
        alerting: AlertFleet) -> None:
    alerting.fleet.register("leaf-1")
    alerting.rule(kind="disease", quiet_s=600)
    alerting.store("leaf-1", [detection(1)])
    [alert_id] = alerting.evaluate(NOW).opened
    # Unacknowledged, it stays open however long it is quiet.
    assert alerting.evaluate(NOW + timedelta(days=2)).cleared == []
    ack = alerting.client.post(f"/api/v1/alerts/{alert_id}/acknowledge",
                               headers=alerting.fleet.viewer)
    assert ack.status_code == 200 and ack.json()["state"] == "acknowledged"
    # A repeat while acknowledged counts on the same alert and restarts the quiet period.
    alerting.store("leaf-1", [detection(2)])
    later = NOW + timedelta(days=2, minutes=1)
    assert alerting.evaluate(later).repeated == [alert_id]
    assert alerting.evaluate(later + timedelta(seconds=599)).cleared == []
    assert alerting.evaluate(later + timedelta(seconds=600)).cleared == [alert_id]
    cleared = alerting.fleet.get(f"/api/v1/alerts/{alert_id}")
    assert cleared["state"] == "cleared" and cleared["cleared_reason"] == "quiet_period"
    assert cleared["cleared_by"] == "engine" and cleared["count"] == 2
    # The same disease afterwards is a new alert.
    alerting.store("leaf-1", [detection(3)])
    [again] = alerting.evaluate(later + timedelta(hours=1)).opened
    assert again != alert_id


def test_a_reading_out_of_range_alerts_only_after_the_duration(alerting: AlertFleet) -> None:
    alerting.fleet.register("soil-1")
    alerting.rule(kind="reading_range", quantity="moisture", min_value=20, max_value=60,
                  for_s=600)
    t0 = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
    alerting.store("soil-1", [reading(1, 30.0, ts=t0), reading(2, 12.0, ts=t0 + timedelta(
        minutes=1)), reading(3, 11.0, ts=t0 + timedelta(minutes=6))])
    assert alerting.evaluate(NOW).opened == []  # dry for 5 minutes only
    alerting.store("soil-1", [reading(4, 10.0, ts=t0 + timedelta(minutes=11))])
    [alert_id] = alerting.evaluate(NOW).opened
    alert = alerting.fleet.get(f"/api/v1/alerts/{alert_id}")
    assert alert["code"] == "reading_out_of_range" and alert["condition"] == "soil/moisture"
    assert alert["params"] == {
        "sensor": "soil", "quantity": "moisture", "value": 10.0, "unit": "%", "min": 20.0,
        "max": 60.0, "for_s": 600.0, "since": "2026-06-01T12:01:00+00:00",
        "ts": "2026-06-01T12:11:00+00:00"}
    alerting.store("soil-1", [reading(5, 9.0, ts=t0 + timedelta(minutes=16))])
    assert alerting.evaluate(NOW).opened == []
    assert len(alerting.alerts()) == 1
    # Back in range: cleared; a second dry spell is a new alert.
    alerting.store("soil-1", [reading(6, 35.0, ts=t0 + timedelta(minutes=21))])
    assert alerting.evaluate(NOW).cleared == [alert_id]
    assert alerting.fleet.get(f"/api/v1/alerts/{alert_id}")["cleared_reason"] == "condition_gone"
    alerting.store("soil-1", [reading(7, 70.0, ts=t0 + timedelta(minutes=22)),
                              reading(8, 71.0, ts=t0 + timedelta(minutes=33))])
    [second] = alerting.evaluate(NOW).opened
    assert alerting.fleet.get(f"/api/v1/alerts/{second}")["params"]["value"] == 71.0


def test_other_quantities_and_sensors_are_not_this_rule(alerting: AlertFleet) -> None:
    alerting.fleet.register("soil-1")
    alerting.rule(kind="reading_range", sensor="probe", quantity="moisture", max_value=60)
    alerting.store("soil-1", [reading(1, 99.0), reading(2, 99.0, quantity="temperature",
                                                        sensor="probe")])
    assert alerting.evaluate(NOW).opened == []


def test_a_node_offline_alerts_until_it_is_back(alerting: AlertFleet) -> None:
    alerting.fleet.register("node-1")
    alerting.fleet.register("never-seen")
    alerting.rule(kind="offline")
    alerting.status("node-1")
    now = datetime.now(UTC)
    assert alerting.evaluate(now).opened == []
    offline_after = alerting.fleet.app.state.settings.offline_after_s
    silent = now + timedelta(seconds=offline_after + 5)
    [alert_id] = alerting.evaluate(silent).opened  # silence says offline; never-seen is not
    assert alerting.evaluate(silent + timedelta(minutes=1)).opened == []
    alert = alerting.fleet.get(f"/api/v1/alerts/{alert_id}")
    assert alert["code"] == "node_offline" and alert["device_id"] == "node-1"
    assert alert["params"]["offline_after_s"] == offline_after
    alerting.status("node-1")  # back
    assert alerting.evaluate(datetime.now(UTC)).cleared == [alert_id]
    alerting.status("node-1", state="offline")  # its last will
    [again] = alerting.evaluate(datetime.now(UTC)).opened
    assert again != alert_id


def test_an_outbox_backlog_alerts_above_the_limit(alerting: AlertFleet) -> None:
    alerting.fleet.register("node-1")
    alerting.rule(kind="backlog", max_backlog=100)
    alerting.status("node-1", outbox_depth=100)
    assert alerting.evaluate().opened == []
    alerting.status("node-1", outbox_depth=5000, outbox_oldest_age_s=7200.0)
    [alert_id] = alerting.evaluate().opened
    alerting.status("node-1", outbox_depth=6000, outbox_oldest_age_s=7300.0)
    assert alerting.evaluate().opened == []
    alert = alerting.fleet.get(f"/api/v1/alerts/{alert_id}")
    assert alert["code"] == "outbox_backlog"
    assert alert["params"] == {"depth": 6000, "max_backlog": 100, "oldest_age_s": 7300.0}
    alerting.status("node-1", outbox_depth=3)
    assert alerting.evaluate().cleared == [alert_id]


def test_the_database_holds_one_open_alert_per_condition(alerting: AlertFleet) -> None:
    alerting.fleet.register("leaf-1")
    alerting.rule(kind="disease")
    alerting.store("leaf-1", [detection(1)])
    [alert_id] = alerting.evaluate(NOW).opened
    engine = alerting.fleet.app.state.engine
    with Session(engine) as session:
        alert = session.get(Alert, alert_id)
        assert alert is not None
        copy = Alert.model_validate(alert.model_dump(exclude={"id"}))
        session.add(copy)
        try:
            session.commit()
            raise AssertionError("a second open alert for the same condition was stored")
        except Exception as exc:  # IntegrityError, named by the database's driver
            assert "IntegrityError" in type(exc).__name__
            session.rollback()
        assert len(session.exec(select(Alert)).all()) == 1
