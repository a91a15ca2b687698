"""Rollout phases specify: devices are offered phase by phase (sizes rounded up, at least
min_devices), later phases only after the earlier one's devices report the new model active,
and a finished rollout leaves no offer retained at the broker."""

from __future__ import annotations

from tests.base_model import BASE_VERSION
from tests.fleet.modelops.rollouts.conftest import OLD, Fleet, offers_at_broker

IDS = [f"d{i:02d}" for i in range(10)]


def test_phases_offer_devices_in_turn_and_complete(rollouts: Fleet) -> None:
    rollouts.devices(*IDS)
    started = rollouts.start(targets={"devices": IDS}, phases=[10, 50, 100], min_devices=2)
    rid = started["id"]
    assert [p["devices"] for p in started["phases"]] == [2, 3, 5]
    states = rollouts.states(started)
    assert [d for d, s in states.items() if s == "offered"] == ["d00", "d01"]
    offers = offers_at_broker(rollouts.broker)
    assert sorted(d for d, o in offers.items() if o is not None) == ["d00", "d01"]
    offer = offers["d00"]
    assert offer is not None and offer.version == "1.2.0" and not offer.rollback
    assert offer.url == "http://fleet.example:8000/api/v1/models/leaf-disease/1.2.0/package"

    rollouts.succeed(rid, "d00")
    assert rollouts.states(rollouts.status(rid))["d02"] == "pending"  # d01 not done yet
    rollouts.succeed(rid, "d01")
    status = rollouts.status(rid)
    assert [d for d, s in rollouts.states(status).items() if s == "offered"] == [
        "d02", "d03", "d04"]
    assert status["phase"] == 1 and status["state"] == "running"

    rollouts.succeed(rid, "d02", "d03", "d04")
    rollouts.status(rid)
    rollouts.succeed(rid, *IDS[5:])
    status = rollouts.status(rid)
    assert status["state"] == "completed"
    assert set(rollouts.states(status).values()) == {"active"}
    assert all(o is None for o in offers_at_broker(rollouts.broker).values())


def test_downloading_or_verifying_is_not_success(rollouts: Fleet) -> None:
    rollouts.devices("a", "b")
    rid = rollouts.start(targets={"devices": ["a", "b"]}, phases=[50, 100])["id"]
    rollouts.report(rid, "a", "downloading", bytes_done=5)
    rollouts.report(rid, "a", "verifying")
    status = rollouts.status(rid)
    assert rollouts.states(status) == {"a": "verifying", "b": "pending"}
    assert status["devices"][0]["bytes_done"] == 5


def test_active_with_another_model_is_a_failure_not_a_success(rollouts: Fleet) -> None:
    rollouts.devices("a", "b")
    rid = rollouts.start(targets={"devices": ["a", "b"]}, phases=[50, 100],
                         max_failures=5)["id"]
    rollouts.report(rid, "a", "active", active=OLD)
    status = rollouts.status(rid)
    device = status["devices"][0]
    assert device["state"] == "failed"
    assert f"reported active but runs leaf-disease {BASE_VERSION}" in device["reason"]
    assert rollouts.states(status)["b"] == "pending"  # no success in phase 1: no advance


def test_a_tag_chooses_the_targets(rollouts: Fleet) -> None:
    rollouts.devices("n1", "n2", tags=["orchard"])
    rollouts.devices("n3", tags=["field"])
    status = rollouts.start(targets={"tag": "orchard"})
    assert sorted(rollouts.states(status)) == ["n1", "n2"]


def test_devices_of_another_model_are_left_out_of_all_and_named(rollouts: Fleet) -> None:
    rollouts.devices("a", "b")
    rollouts.devices("x", model={"name": "no-such-model", "version": "1.0.0",
                                 "sha256": "0" * 64})
    status = rollouts.start(targets={"all": True})
    assert sorted(rollouts.states(status)) == ["a", "b"]
    [event] = [e for e in status["events"] if e["action"] == "not_eligible"]
    assert "x runs no-such-model" in event["detail"]
    only_x = rollouts.fleet.client.post(
        "/api/v1/rollouts", headers=rollouts.technician,
        json={"model": "leaf-disease", "version": "1.2.0", "targets": {"devices": ["x"]}})
    assert only_x.status_code == 422 and "wrong_model" in only_x.text  # named: still refused


def test_refused_rollouts_say_why(rollouts: Fleet) -> None:
    rollouts.devices("a")
    rollouts.devices("x", model={"name": "weed-finder", "version": "1.0.0",
                                 "sha256": "0" * 64})
    client, tech = rollouts.fleet.client, rollouts.technician
    base = {"model": "leaf-disease", "version": "1.2.0"}
    cases = [
        ({**base, "targets": {"devices": ["nope"]}}, 404, "unknown device"),
        ({**base, "version": "7.0.0", "targets": {"all": True}}, 404, "no package"),
        ({**base, "targets": {"devices": ["x"]}}, 422, "wrong_model"),
        ({**base, "version": BASE_VERSION, "targets": {"devices": ["a"]}}, 422, "downgrade"),
        ({**base, "targets": {"devices": ["a"]}, "phases": [50, 20, 100]}, 422, "phases"),
        ({**base, "targets": {"tag": "t", "all": True}}, 422, "exactly one"),
    ]
    for body, code, words in cases:
        response = client.post("/api/v1/rollouts", json=body, headers=tech)
        assert response.status_code == code, (body, response.text)
        assert words in response.text
    viewer = client.post("/api/v1/rollouts", json={**base, "targets": {"all": True}},
                         headers=rollouts.fleet.viewer)
    assert viewer.status_code == 403
    rollouts.start(targets={"devices": ["a"]})
    again = client.post("/api/v1/rollouts", json={**base, "targets": {"devices": ["a"]}},
                        headers=tech)
    assert again.status_code == 409 and "already in an unfinished rollout" in again.text


def test_numbers_beyond_what_the_database_and_the_nodes_hold_are_refused(
        rollouts: Fleet) -> None:
    rollouts.devices("a")
    base = {"model": "leaf-disease", "version": "1.2.0", "targets": {"devices": ["a"]}}
    for field, value in [("min_devices", 2**40), ("max_failures", 2**40),
                         ("shadow_images", 2**40), ("shadow_max_s", 1e300),
                         ("timeout_s", 1e300)]:
        response = rollouts.fleet.client.post("/api/v1/rollouts", json={**base, field: value},
                                              headers=rollouts.technician)
        assert response.status_code == 422, (field, response.text)
        assert response.json()["detail"][0]["loc"] == ["body", field]
    assert rollouts.fleet.get("/api/v1/rollouts") == []
    rollouts.start(targets={"devices": ["a"]})  # nothing was left half-made
