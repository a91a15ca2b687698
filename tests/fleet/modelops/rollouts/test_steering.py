"""Steering specifies: stuck devices fail by timeout, an offline device keeps its offer and is
not counted done, pause holds, abort withdraws every offer and voids its tokens, and every
action is recorded with who did it and when."""

from __future__ import annotations

from datetime import timedelta

from tests.fleet.modelops.rollouts.conftest import Fleet, offers_at_broker

LATER = timedelta(seconds=120)


def test_a_device_stuck_in_a_state_fails_by_timeout(rollouts: Fleet) -> None:
    rollouts.devices("a", "b", "c")
    rid = rollouts.start(targets={"devices": ["a", "b", "c"]}, timeout_s=60,
                         max_failures=5)["id"]
    rollouts.report(rid, "a", "downloading", bytes_done=1)
    rollouts.report(rid, "b", "shadow")
    status = rollouts.status(rid, later=LATER)
    devices = {d["device_id"]: d for d in status["devices"]}
    assert devices["a"]["state"] == "failed"
    assert devices["a"]["reason"] == "timeout in downloading"
    assert devices["b"]["state"] == "shadow"  # shadow gets the rollout's shadow_max_s too
    assert devices["c"]["reason"] == "timeout in offered"  # online, never took it up


def test_an_offline_device_keeps_its_offer_and_is_not_done(rollouts: Fleet) -> None:
    rollouts.devices("a")
    rollouts.devices("z", online=False)
    rid = rollouts.start(targets={"devices": ["a", "z"]}, timeout_s=60)["id"]
    rollouts.succeed(rid, "a")
    status = rollouts.status(rid, later=timedelta(days=3))
    assert rollouts.states(status) == {"a": "active", "z": "offered"}
    assert status["state"] == "running"
    assert status["reason"] == "waiting for 1 offline device(s): z"
    assert offers_at_broker(rollouts.broker)["z"] is not None
    rollouts.set_online("z", True)  # back: it takes the retained offer
    rollouts.succeed(rid, "z")
    assert rollouts.status(rid)["state"] == "completed"


def test_pause_holds_the_next_phase_until_resume(rollouts: Fleet) -> None:
    rollouts.devices("a", "b")
    rid = rollouts.start(targets={"devices": ["a", "b"]}, phases=[50, 100])["id"]
    rollouts.act(rid, "pause", note="harvest week")
    rollouts.succeed(rid, "a")
    status = rollouts.status(rid)
    assert status["state"] == "paused" and rollouts.states(status)["b"] == "pending"
    rollouts.act(rid, "resume")
    assert rollouts.states(rollouts.status(rid))["b"] == "offered"


def test_abort_withdraws_offers_and_voids_download_tokens(rollouts: Fleet) -> None:
    rollouts.devices("a", "b")
    rid = rollouts.start(targets={"devices": ["a", "b"]})["id"]
    offer = offers_at_broker(rollouts.broker)["a"]
    assert offer is not None
    url = "/api/v1/models/leaf-disease/1.2.0/package"
    auth = {"Authorization": f"Bearer {offer.token}"}
    assert rollouts.fleet.client.get(url, headers={**auth, "Range": "bytes=0-9"}
                                     ).status_code == 206
    status = rollouts.act(rid, "abort", note="wrong model")
    assert status["state"] == "aborted"
    assert offers_at_broker(rollouts.broker) == {}  # empty retained payloads: nothing left
    assert rollouts.fleet.client.get(url, headers=auth).status_code == 401
    again = rollouts.fleet.client.post(f"/api/v1/rollouts/{rid}/abort",
                                       headers=rollouts.technician)
    assert again.status_code == 409


def test_every_action_is_recorded_with_who_and_when(rollouts: Fleet) -> None:
    rollouts.devices("a")
    rid = rollouts.start(targets={"devices": ["a"]})["id"]
    rollouts.act(rid, "pause", note="checking the gate")
    rollouts.act(rid, "resume")
    status = rollouts.act(rid, "abort")
    people = [(e["actor"], e["action"], e["detail"]) for e in status["events"]
              if e["actor"] != "engine"]
    assert people == [
        ("tess (technician)", "start", "leaf-disease 1.2.0, phases [100]"),
        ("tess (technician)", "pause", "checking the gate"),
        ("tess (technician)", "resume", ""),
        ("tess (technician)", "abort", ""),
    ]
    stamps = [e["ts"] for e in status["events"]]
    assert stamps == sorted(stamps)
    listed = rollouts.fleet.get("/api/v1/rollouts")
    assert [(r["id"], r["state"], r["created_by"]) for r in listed] == [
        (rid, "aborted", "tess (technician)")]


def test_a_restarted_fleet_carries_on_from_the_database(rollouts: Fleet) -> None:
    from agrifleet.fleet.settings import FleetSettings
    from tests.fleet.conftest import running_fleet

    rollouts.devices("a", "b")
    rid = rollouts.start(targets={"devices": ["a", "b"]}, phases=[50, 100])["id"]
    rollouts.succeed(rid, "a")  # stored while the engine is not looking
    old: FleetSettings = rollouts.fleet.app.state.settings
    settings = old.model_copy(update={"mqtt_client_id": old.mqtt_client_id + "-again"})
    with running_fleet(settings) as again:  # a second process on the same database and broker
        again.app.state.rollouts.tick()
        status = again.get(f"/api/v1/rollouts/{rid}")
    assert rollouts.states(status) == {"a": "active", "b": "offered"}
    offer = offers_at_broker(rollouts.broker)["b"]
    assert offer is not None and offer.rollout_id == rid
