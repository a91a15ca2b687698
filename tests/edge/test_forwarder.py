"""The forwarder: a bounded window of unacknowledged batches, room kept for alerts and other
non-readings beyond it, resends after the ack timeout or at once when the fleet is back."""

from __future__ import annotations

from pathlib import Path

from agrifleet.contract import Ack, Batch, seq_ranges
from agrifleet.edge.clock import Clock
from agrifleet.edge.forwarder import Forwarder
from agrifleet.edge.items import Priority
from agrifleet.edge.outbox import Outbox


class Wire:
    """The link's side of publish(): records every payload, can be cut."""

    def __init__(self) -> None:
        self.sent: list[Batch] = []
        self.up = True

    def publish(self, payload: bytes) -> bool:
        if not self.up:
            return False
        self.sent.append(Batch.model_validate_json(payload))
        return True

    def kinds(self, batch: Batch) -> set[str]:
        return {item.kind for item in batch.items}


class Clockwork:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def reading(i: int) -> dict:
    return {"sensor": "soil", "quantity": "soil_moisture", "value": float(i), "unit": "%"}


ALERT = {"severity": "alert", "code": "frost", "message": "frost on the leaves"}
EVENT = {"severity": "warning", "code": "sensor_down", "message": "probe silent"}


def setup(tmp_path: Path, **kwargs: float) -> tuple[Outbox, Wire, Forwarder, Clockwork]:
    outbox = Outbox.open(tmp_path / "outbox.sqlite", device_id="field-07", boot_id="boot-1",
                         clock=Clock("always"), max_bytes=1 << 24, batch_items=5,
                         batch_bytes=64 * 1024, drain_order="oldest-first")
    wire, clock = Wire(), Clockwork()
    forwarder = Forwarder(outbox, wire.publish, max_inflight=int(kwargs.get("max_inflight", 2)),
                          ack_timeout_s=kwargs.get("ack_timeout_s", 60.0), now=clock)
    return outbox, wire, forwarder, clock


def ack(batch: Batch) -> Ack:
    return Ack(boot_id=batch.boot_id, ranges=seq_ranges([i.seq for i in batch.items]))


def test_an_alert_goes_out_while_the_window_is_full_of_readings(tmp_path: Path) -> None:
    outbox, wire, forwarder, _ = setup(tmp_path, max_inflight=2)
    outbox.emit_all([("reading", reading(i), Priority.READING) for i in range(30)])
    assert forwarder.pump() == 2
    assert forwarder.pump() == 0, "the window is full: no more readings"
    outbox.emit("event", ALERT, Priority.ALERT)
    assert forwarder.pump() == 1
    assert wire.kinds(wire.sent[-1]) == {"event"}
    assert wire.sent[-1].items[0].severity == "alert"  # type: ignore[union-attr]
    assert forwarder.pump() == 0, "still no reading beyond max_inflight"
    assert [wire.kinds(b) for b in wire.sent[:2]] == [{"reading"}, {"reading"}]


def test_an_alert_still_has_a_slot_when_events_fill_the_reserve(tmp_path: Path) -> None:
    outbox, wire, forwarder, _ = setup(tmp_path, max_inflight=1)
    outbox.emit_all([("reading", reading(i), Priority.READING) for i in range(10)])
    forwarder.pump()
    outbox.emit_all([("event", EVENT, Priority.EVENT) for _ in range(10)])
    assert forwarder.pump() == 1  # the slot for non-readings
    assert wire.kinds(wire.sent[-1]) == {"event"}
    outbox.emit("event", ALERT, Priority.ALERT)
    assert forwarder.pump() == 1  # the alerts' own slot
    assert [i.severity for i in wire.sent[-1].items] == ["alert"]  # type: ignore[union-attr]
    assert forwarder.inflight == 3
    assert forwarder.pump() == 0


def test_an_ack_frees_the_window_for_the_next_readings(tmp_path: Path) -> None:
    outbox, wire, forwarder, _ = setup(tmp_path, max_inflight=2)
    outbox.emit_all([("reading", reading(i), Priority.READING) for i in range(12)])
    forwarder.pump()
    forwarder.on_ack(ack(wire.sent[0]))
    assert forwarder.pump() == 1
    assert [i.seq for i in wire.sent[-1].items] == [10, 11]
    assert outbox.stats().depth == 7


def test_resend_now_sends_everything_in_flight_again_before_the_timeout(tmp_path: Path) -> None:
    outbox, wire, forwarder, clock = setup(tmp_path, max_inflight=2, ack_timeout_s=60)
    outbox.emit_all([("reading", reading(i), Priority.READING) for i in range(10)])
    forwarder.pump()
    first = [[i.seq for i in b.items] for b in wire.sent]
    clock.t = 5.0  # far below the ack timeout: pump alone sends nothing again
    assert forwarder.pump() == 0
    assert forwarder.resend_now() == 2
    again = [[i.seq for i in b.items] for b in wire.sent[2:]]
    assert again == first
    assert forwarder.expired == 0 and forwarder.fleet_returns == 1
    for batch in wire.sent[2:]:
        forwarder.on_ack(ack(batch))
    assert forwarder.inflight == 0


def test_resend_now_without_a_session_keeps_everything_for_later(tmp_path: Path) -> None:
    outbox, wire, forwarder, _ = setup(tmp_path, max_inflight=2)
    outbox.emit_all([("reading", reading(i), Priority.READING) for i in range(10)])
    forwarder.pump()
    wire.up = False
    assert forwarder.resend_now() == 0
    assert forwarder.inflight == 0 and outbox.inflight_items == 0
    wire.up = True
    assert forwarder.pump() == 2
    assert [i.seq for i in wire.sent[-2].items] == [0, 1, 2, 3, 4]


def test_a_batch_unacked_past_the_timeout_goes_again(tmp_path: Path) -> None:
    outbox, wire, forwarder, clock = setup(tmp_path, max_inflight=1, ack_timeout_s=30)
    outbox.emit_all([("reading", reading(i), Priority.READING) for i in range(3)])
    forwarder.pump()
    clock.t = 29.0
    assert forwarder.pump() == 0
    clock.t = 30.0
    assert forwarder.pump() == 1
    assert forwarder.expired == 1
    assert [i.seq for i in wire.sent[1].items] == [0, 1, 2]


def test_the_timeout_is_ten_times_longer_while_the_fleet_is_away(tmp_path: Path) -> None:
    outbox, wire, forwarder, clock = setup(tmp_path, max_inflight=1, ack_timeout_s=30)
    outbox.emit_all([("reading", reading(i), Priority.READING) for i in range(3)])
    forwarder.pump()
    forwarder.fleet_away()
    clock.t = 299.0
    assert forwarder.pump() == 0, "copies would only queue up at the broker"
    assert forwarder.expired == 0 and len(wire.sent) == 1
    assert forwarder.resend_now() == 1  # the fleet is back
    clock.t = 329.0
    assert forwarder.pump() == 1, "the usual timeout again"
    assert forwarder.expired == 1


def test_a_fleet_that_never_announces_its_return_still_gets_resends(tmp_path: Path) -> None:
    outbox, wire, forwarder, clock = setup(tmp_path, max_inflight=1, ack_timeout_s=30)
    outbox.emit_all([("reading", reading(i), Priority.READING) for i in range(3)])
    forwarder.pump()
    forwarder.fleet_away()
    clock.t = 300.0
    assert forwarder.pump() == 1 and forwarder.expired == 1
    forwarder.on_ack(ack(wire.sent[-1]))  # it is there after all: timeouts are normal again
    outbox.emit("reading", reading(9), Priority.READING)
    forwarder.pump()
    clock.t = 330.0
    assert forwarder.pump() == 1 and forwarder.expired == 2
