"""Hostile node reports specify: a device sending absurd Update items (numbers beyond what the
database holds, reports for a rollout it is not in, a jump back after it is done) gets them
refused or ignored, never loses its other items, and never moves another device's state."""

from __future__ import annotations

from tests.fleet.device import Device, reading, update, wait_until
from tests.fleet.modelops.rollouts.conftest import NEW, OLD, Fleet


def _device(rollouts: Fleet, device_id: str) -> Device:
    url = rollouts.broker.add_device(device_id)
    rollouts.fleet.register(device_id)
    device = Device(url, device_id)
    rollouts.fleet.devices.append(device)
    device.status(model=OLD)
    return device


def test_absurd_numbers_are_refused_and_the_rest_of_the_batch_is_kept(
        rollouts: Fleet) -> None:
    device = _device(rollouts, "field-7")
    rid = rollouts.start(targets={"devices": ["field-7"]})["id"]
    huge = 2**70
    ack = device.send("boot-1", [
        reading(0),
        update(1, "downloading", rid, version="1.2.0", bytes_done=huge, bytes_total=huge),
        update(2, "downloading", huge, version="1.2.0"),
        update(3, "downloading", rid, version="1.2.0", bytes_done=5, bytes_total=10),
    ])
    assert ack.ranges == [(0, 0), (3, 3)]
    assert set(ack.rejected) == {1, 2}, ack.rejected
    status = rollouts.status(rid)
    assert rollouts.states(status) == {"field-7": "downloading"}
    assert status["devices"][0]["bytes_done"] == 5


def test_a_device_outside_the_rollout_cannot_finish_it(rollouts: Fleet) -> None:
    _device(rollouts, "field-7")
    outsider = _device(rollouts, "field-8")
    rid = rollouts.start(targets={"devices": ["field-7"]})["id"]
    ack = outsider.send("boot-1", [update(0, "active", rid, version="1.2.0", active=NEW)])
    assert ack.ranges == [(0, 0)]  # stored as its own history, but not as field-7's
    status = rollouts.status(rid)
    assert rollouts.states(status) == {"field-7": "offered"}
    assert status["state"] == "running"


def test_infinite_gate_figures_are_refused_and_the_rest_of_the_batch_is_kept(
        rollouts: Fleet) -> None:
    device = _device(rollouts, "field-7")
    rid = rollouts.start(targets={"devices": ["field-7"]})["id"]
    gate = {"images": 20, "agreement": 1.0, "mean_confidence": 0.9, "uncertain_rate": 0.0,
            "latency_ms": 1e999}  # json writes Infinity: what a hostile or broken node sends
    ack = device.send("boot-1", [
        reading(0),
        update(1, "shadow", rid, version="1.2.0", gate=gate),
        update(2, "downloading", rid, version="1.2.0", bytes_done=5, bytes_total=10),
    ])
    assert ack.ranges == [(0, 0), (2, 2)]
    assert set(ack.rejected) == {1}, ack.rejected
    assert rollouts.states(rollouts.status(rid)) == {"field-7": "downloading"}


def test_a_late_in_progress_report_does_not_reopen_a_done_device(rollouts: Fleet) -> None:
    rollouts.devices("a", "b")
    rid = rollouts.start(targets={"devices": ["a", "b"]}, phases=[50, 100])["id"]
    rollouts.succeed(rid, "a")
    assert rollouts.states(rollouts.status(rid)) == {"a": "active", "b": "offered"}
    rollouts.report(rid, "a", "downloading", bytes_done=1)  # a replayed or forged report
    rollouts.succeed(rid, "b")
    status = rollouts.status(rid)
    assert rollouts.states(status) == {"a": "active", "b": "active"}
    assert status["state"] == "completed", status["reason"]


def test_an_infinite_health_figure_does_not_break_the_device_or_the_api(
        rollouts: Fleet) -> None:
    device = _device(rollouts, "field-7")
    device.status(model=OLD, cpu_temp_c=1e999)  # json writes Infinity
    device.status(model=NEW)  # the next, sane status still arrives after it
    wait_until(lambda: (rollouts.fleet.get("/api/v1/devices/field-7").get("model") or {})
               .get("version") == "1.2.0", what="the sane status after the infinite one")
    assert rollouts.fleet.get("/api/v1/devices/field-7")["model"] == NEW
