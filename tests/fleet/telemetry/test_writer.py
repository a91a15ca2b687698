"""The writer specifies: a message or item the database refuses is isolated and rejected while
every other message of the transaction is stored and acknowledged; impossible seqs and times are
refused; items dated in the future are kept but never become the latest reading; a conflicting
duplicate is rejected, counted, logged and recorded as an event, a plain resend stays silent."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlmodel import Session, select

from agrifleet.contract import MAX_SEQ, Ack
from agrifleet.fleet.telemetry.tables import Event, Reading
from agrifleet.fleet.telemetry.writer import Incoming, Writer
from tests.fleet.conftest import FleetUnderTest
from tests.fleet.device import T0, batch, detection, event, jpeg_bytes, reading, update

POISON = 666.0  # a reading value the test database's trigger refuses


class Node:
    """The real writer on the test's database, and the acks it would publish."""

    def __init__(self, api: FleetUnderTest, **options: Any) -> None:
        self.api = api
        self.acks: list[tuple[str, Ack]] = []
        self.writer = Writer(api.app.state.engine, api.app.state.metrics, "agrifleet",
                             lambda dev, ack: self.acks.append((dev, ack)), **options)  # fmt: skip

    def write(self, *messages: tuple[str, bytes] | tuple[str, bytes, str]) -> dict[str, list[Ack]]:
        """Store these (device, payload[, topic leaf]) messages in one go; the acks, per device."""
        self.acks.clear()
        self.writer.write([
            Incoming(f"agrifleet/{m[0]}/{m[2] if len(m) == 3 else 'messages'}", m[1])
            for m in messages
        ])  # fmt: skip
        out: dict[str, list[Ack]] = {}
        for dev, ack in self.acks:
            out.setdefault(dev, []).append(ack)
        return out

    def send(self, dev: str, items: list[dict[str, Any]], boot: str = "b1") -> Ack:
        acks = self.write((dev, batch(dev, boot, items)))
        assert len(acks.get(dev, [])) == 1, acks
        return acks[dev][0]

    def seqs(self, dev: str) -> list[int]:
        rows = self.api.get(f"/api/v1/devices/{dev}/readings", order="asc")
        return [r["seq"] for r in rows]


def _poison_readings(api: FleetUnderTest) -> None:
    """A trigger that refuses readings of value POISON: a failure no check foresees."""
    engine = api.app.state.engine
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.execute(text(
                f"CREATE TRIGGER poison BEFORE INSERT ON reading WHEN NEW.value = {POISON} "
                "BEGIN SELECT RAISE(ABORT, 'poisoned value'); END"
            ))  # fmt: skip
        else:
            conn.execute(text(
                "CREATE FUNCTION poison() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                f"IF NEW.value = {POISON} THEN RAISE EXCEPTION 'poisoned value'; END IF; "
                "RETURN NEW; END $$"
            ))  # fmt: skip
            conn.execute(text("CREATE TRIGGER poison BEFORE INSERT ON reading "
                              "FOR EACH ROW EXECUTE FUNCTION poison()"))  # fmt: skip


def _poison_statuses(api: FleetUnderTest) -> None:
    """Make the database refuse storing a status whose boot id is "poison" (a trigger)."""
    engine = api.app.state.engine
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.execute(text(
                "CREATE TRIGGER poison_status BEFORE UPDATE ON device "
                "WHEN NEW.boot_id = 'poison' BEGIN SELECT RAISE(ABORT, 'poisoned status'); END"
            ))  # fmt: skip
        else:
            conn.execute(text(
                "CREATE FUNCTION poison_status() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                "IF NEW.boot_id = 'poison' THEN RAISE EXCEPTION 'poisoned status'; END IF; "
                "RETURN NEW; END $$"
            ))  # fmt: skip
            conn.execute(text("CREATE TRIGGER poison_status BEFORE UPDATE ON device "
                              "FOR EACH ROW EXECUTE FUNCTION poison_status()"))  # fmt: skip


_POISON_STATUS = json.dumps({"v": 1, "device_id": "field-d", "boot_id": "poison",
                             "state": "online", "ts": "2026-01-01T00:00:00+01:00"}).encode()


def _register(api: FleetUnderTest, *devices: str) -> None:
    for dev in devices:
        api.register(dev)


def test_a_poison_item_is_rejected_and_every_other_message_stored(api: FleetUnderTest) -> None:
    _register(api, "field-a", "field-b", "field-c", "field-d")
    _poison_readings(api)
    _poison_statuses(api)
    node = Node(api)
    bad_status = _POISON_STATUS  # a status the database refuses (no item to blame)
    acks = node.write(
        ("field-a", batch("field-a", "b1", [reading(s) for s in range(0, 25)])),
        ("field-b", batch("field-b", "b1", [reading(0), reading(1, POISON), reading(2)])),
        ("field-c", batch("field-c", "b1", [reading(s) for s in range(0, 25)])),
        ("field-d", bad_status, "status"),
        ("field-a", batch("field-a", "b1", [reading(s) for s in range(25, 51)])),
    )
    assert [a.ranges for a in acks["field-a"]] == [[(0, 24)], [(25, 50)]]
    assert [a.ranges for a in acks["field-c"]] == [[(0, 24)]]
    (ack_b,) = acks["field-b"]
    assert ack_b.ranges == [(0, 0), (2, 2)]
    assert list(ack_b.rejected) == [1] and ack_b.rejected[1].startswith("storage_error: ")
    assert "field-d" not in acks  # a status is not acknowledged; it is refused and counted
    assert node.seqs("field-a") == list(range(51))
    assert node.seqs("field-b") == [0, 2]
    assert node.seqs("field-c") == list(range(25))
    assert api.metric('agrifleet_messages_refused_total{reason="storage_error"}') == 1
    assert api.metric('agrifleet_items_rejected_total{reason="storage_error"}') == 1
    assert api.get("/api/v1/devices/field-b/gaps")[0]["missing"] == 0  # rejected, not lost


def test_a_few_poison_items_among_many_are_found_and_only_they_rejected(
    api: FleetUnderTest,
) -> None:
    _register(api, "field-a")
    _poison_readings(api)
    node = Node(api)
    items = [reading(s, POISON if s in (7, 999, 1000) else 20.0) for s in range(1500)]
    ack = node.send("field-a", items)
    assert set(ack.rejected) == {7, 999, 1000}
    assert ack.ranges == [(0, 6), (8, 998), (1001, 1499)]
    assert api.get("/api/v1/devices/field-a")["gaps"]["missing"] == 0
    assert len(api.get("/api/v1/devices/field-a/readings", limit=5000)) == 1497


def test_a_message_whose_every_item_fails_is_refused_not_dead_lettered(
    api: FleetUnderTest,
) -> None:
    _register(api, "field-a", "field-b")
    _poison_readings(api)
    node = Node(api)
    acks = node.write(
        ("field-a", batch("field-a", "b1", [reading(s, POISON) for s in range(4)])),
        ("field-b", batch("field-b", "b1", [reading(0)])),
    )
    assert "field-a" not in acks  # not acknowledged: the node keeps the items and resends them
    assert acks["field-b"][0].ranges == [(0, 0)]
    assert api.metric('agrifleet_messages_refused_total{reason="storage_error"}') == 1


def test_a_message_failing_without_any_item_is_refused_alone(api: FleetUnderTest) -> None:
    _register(api, "field-a", "field-d")
    _poison_statuses(api)
    node = Node(api)
    node.writer.write([Incoming("agrifleet/field-d/status", _POISON_STATUS)])
    assert api.metric('agrifleet_messages_refused_total{reason="storage_error"}') == 1
    assert node.send("field-a", [reading(0)]).ranges == [(0, 0)]  # the writer goes on


@pytest.mark.parametrize("seq", [2**63, 2**63 - 1, MAX_SEQ + 1, 2**64])
def test_a_seq_beyond_the_contract_is_rejected_and_not_a_gap(
    api: FleetUnderTest, seq: int
) -> None:
    _register(api, "field-a", "field-b")
    node = Node(api)
    acks = node.write(
        ("field-a", batch("field-a", "b1", [reading(0), reading(1), reading(2) | {"seq": seq}])),
        ("field-b", batch("field-b", "b1", [reading(s) for s in range(50)])),
    )
    (ack,) = acks["field-a"]
    assert ack.ranges == [(0, 1)]
    assert list(ack.rejected) == [seq] and "seq" in ack.rejected[seq]
    assert acks["field-b"][0].ranges == [(0, 49)]
    gaps = api.get("/api/v1/devices/field-a/gaps")[0]
    assert (gaps["highest_seq"], gaps["missing"]) == (1, 0)


def test_a_seq_leaping_absurdly_past_the_boot_is_rejected(api: FleetUnderTest) -> None:
    _register(api, "field-a")
    node = Node(api, max_seq_jump=1000)
    assert node.send("field-a", [reading(s) for s in range(3)]).ranges == [(0, 2)]
    highest = reading(0) | {"seq": MAX_SEQ}
    ack = node.send("field-a", [reading(3), reading(1003), reading(2004), highest])
    assert ack.ranges == [(3, 3), (1003, 1003)]  # 1003 is 1000 past 3: a gap a node can have
    assert set(ack.rejected) == {2004, MAX_SEQ}
    assert ack.rejected[2004].startswith("seq_jump: ")
    gaps = api.get("/api/v1/devices/field-a/gaps")[0]
    assert (gaps["highest_seq"], gaps["missing"]) == (1003, 999)
    # A new boot starts from nothing: its first seqs may not leap either.
    assert node.send("field-a", [reading(5000)], boot="b2").rejected.keys() == {5000}


@pytest.mark.parametrize(
    "ts",
    [
        "0001-01-01T00:00:00+00:00",
        "9999-12-31T23:59:59+00:00",
        "9999-12-31T23:59:59-01:00",
        "0001-01-01T00:00:00+01:00",
        0,
        1780000000,
        "1780000000",
        "2026-06-01T12:00:00",
        "2026-06-01",
        "yesterday",
    ],
)
def test_an_impossible_time_is_rejected(api: FleetUnderTest, ts: object) -> None:
    _register(api, "field-a")
    node = Node(api)
    ack = node.send("field-a", [reading(0), reading(1) | {"ts": ts}, reading(2)])
    assert ack.ranges == [(0, 0), (2, 2)]
    assert list(ack.rejected) == [1] and "ts" in ack.rejected[1]
    for params in ({"order": "asc"}, {"bucket": 3600}):
        assert api.get("/api/v1/devices/field-a/readings", **params)


def test_a_synchronised_clock_before_2020_is_rejected_an_unsynchronised_one_kept(
    api: FleetUnderTest,
) -> None:
    _register(api, "field-a")
    node = Node(api)
    epoch = datetime(1970, 1, 1, 0, 5, tzinfo=UTC)  # a node without RTC, five minutes up
    ack = node.send("field-a", [
        reading(0, ts=epoch) | {"clock_synced": False},
        reading(1, ts=datetime(2019, 12, 31, tzinfo=UTC)),
        reading(2),
    ])  # fmt: skip
    assert ack.ranges == [(0, 0), (2, 2)]
    assert list(ack.rejected) == [1] and "2020" in ack.rejected[1]
    assert api.metric('agrifleet_items_rejected_total{reason="synced_before_2020"}') == 1


def test_future_items_are_kept_flagged_but_never_latest_nor_position(api: FleetUnderTest) -> None:
    _register(api, "field-a")
    node = Node(api, future_tolerance_s=300)
    now = datetime.now(UTC)
    soon, later = now + timedelta(seconds=60), now + timedelta(minutes=10)
    where = {"sensor": "gps", "unit": "deg"}
    ack = node.send("field-a", [
        reading(0, 21.0, ts=now - timedelta(seconds=5)),
        reading(1, 52.1, quantity="latitude", ts=now, **where),
        reading(2, 13.4, quantity="longitude", ts=now, **where),
        reading(3, 22.0, ts=soon),  # a clock slightly ahead: within the tolerance
        reading(4, 99.0, ts=later),
        reading(5, 99.0, ts=datetime(2099, 1, 1, tzinfo=UTC)),
        reading(6, -1.0, quantity="latitude", ts=datetime(2199, 1, 1, tzinfo=UTC), **where),
    ])  # fmt: skip
    assert ack.ranges == [(0, 6)] and ack.rejected == {}
    rows = {r["seq"]: r for r in api.get("/api/v1/devices/field-a/readings", order="asc")}
    assert [s for s, r in rows.items() if r["future"]] == [4, 5, 6]
    detail = api.get("/api/v1/devices/field-a")
    latest = {r["quantity"]: r["value"] for r in detail["latest"]}
    assert latest == {"moisture": 22.0, "latitude": 52.1, "longitude": 13.4}
    assert (detail["position"]["latitude"], detail["position"]["longitude"]) == (52.1, 13.4)
    # A later present-day reading still becomes the latest.
    node.send("field-a", [reading(7, 23.0, ts=soon + timedelta(seconds=1))])
    detail = api.get("/api/v1/devices/field-a")
    assert {r["quantity"]: r["value"] for r in detail["latest"]}["moisture"] == 23.0
    assert api.get("/api/v1/devices/field-a/readings", bucket=3600)


def test_latency_counts_synced_present_items_and_is_never_negative(api: FleetUnderTest) -> None:
    _register(api, "field-a")
    node = Node(api)
    now = datetime.now(UTC)
    node.send("field-a", [
        reading(0, ts=now + timedelta(seconds=120)),  # ahead, within the tolerance
        reading(1, ts=now + timedelta(days=3650)),  # future: left out
        reading(2, ts=datetime(1970, 1, 1, tzinfo=UTC)) | {"clock_synced": False},  # left out
        reading(3, ts=now - timedelta(seconds=2)),
    ])  # fmt: skip
    assert api.metric("agrifleet_ingest_latency_seconds_count") == 2
    total = api.metric("agrifleet_ingest_latency_seconds_sum")
    assert 2 <= total < 3600  # about 0 for the clock ahead (not -120), about 2 s for the other


def test_a_conflicting_duplicate_is_rejected_counted_logged_and_an_event(
    api: FleetUnderTest, caplog: pytest.LogCaptureFixture
) -> None:
    _register(api, "field-a")
    node = Node(api)
    assert node.send("field-a", [reading(s) for s in range(3)]).ranges == [(0, 2)]
    with caplog.at_level(logging.WARNING, logger="agrifleet.fleet.telemetry.writer"):
        ack = node.send("field-a", [reading(1, value=30.0), reading(2), reading(3)])
    assert ack.ranges == [(2, 3)]
    assert list(ack.rejected) == [1]
    assert ack.rejected[1] == "duplicate_conflict: seq 1 is stored with another value"
    assert api.metric("agrifleet_conflicts_total") == 1
    assert api.metric('agrifleet_items_duplicate_total{kind="reading"}') == 1  # seq 2 only
    assert [r["value"] for r in api.get("/api/v1/devices/field-a/readings", order="asc")] == [
        21.5, 21.5, 21.5, 21.5
    ]  # fmt: skip
    (logged,) = [r.getMessage() for r in caplog.records if "conflict" in r.getMessage()]
    assert "'field-a'" in logged and "seq 1" in logged and "value" in logged
    (found,) = api.get("/api/v1/devices/field-a/events")
    assert (found["code"], found["severity"], found["boot_id"]) == (
        "duplicate_conflict", "warning", "fleet"
    )  # fmt: skip
    assert "seq 1" in found["message"] and "value" in found["message"]
    assert "b1" in found["message"] and found["seq"] < 0
    # Another conflict later is another event, with a seq of its own.
    node.send("field-a", [reading(0, value=1.0) | {"unit": "mm"}])
    events = api.get("/api/v1/devices/field-a/events")
    assert len(events) == 2 and len({e["seq"] for e in events}) == 2
    assert api.metric("agrifleet_conflicts_total") == 2


def test_an_exact_resend_is_silent_and_a_clock_correction_is_applied(
    api: FleetUnderTest, caplog: pytest.LogCaptureFixture
) -> None:
    _register(api, "field-a")
    node = Node(api)
    unsynced = reading(1, ts=datetime(1970, 1, 1, 0, 1, tzinfo=UTC)) | {"clock_synced": False}
    items = [reading(0), unsynced]
    assert node.send("field-a", items).ranges == [(0, 1)]
    with caplog.at_level(logging.WARNING, logger="agrifleet.fleet.telemetry.writer"):
        assert node.send("field-a", items) == Ack(boot_id="b1", ranges=[(0, 1)])
        # The node synchronised its clock and rewrote the in-flight item's time.
        corrected = reading(1, ts=T0 + timedelta(seconds=1))
        assert node.send("field-a", [corrected]) == Ack(boot_id="b1", ranges=[(1, 1)])
    assert not [r for r in caplog.records if "conflict" in r.getMessage()]
    assert api.metric("agrifleet_conflicts_total") == 0
    assert api.get("/api/v1/devices/field-a/events") == []
    with Session(api.app.state.engine) as session:
        stored = session.exec(select(Reading).where(Reading.seq == 1)).one()
        assert stored.clock_synced and stored.ts == T0 + timedelta(seconds=1)
        assert session.exec(select(Event)).all() == []


def test_the_copy_from_before_a_clock_correction_is_a_silent_resend(api: FleetUnderTest) -> None:
    _register(api, "field-a")
    node = Node(api)
    unsynced = reading(1, ts=datetime(1970, 1, 1, 0, 1, tzinfo=UTC)) | {"clock_synced": False}
    corrected = reading(1, ts=T0 + timedelta(seconds=1))
    node.send("field-a", [reading(0), unsynced])
    node.send("field-a", [corrected])
    # A worker that crashed holding the first batch gets it again from the broker, late.
    assert node.send("field-a", [reading(0), unsynced]) == Ack(boot_id="b1", ranges=[(0, 1)])
    assert api.metric("agrifleet_conflicts_total") == 0
    assert api.get("/api/v1/devices/field-a/events") == []
    with Session(api.app.state.engine) as session:
        (stored,) = session.exec(select(Reading).where(Reading.seq == 1)).all()
        assert stored.clock_synced and stored.ts == T0 + timedelta(seconds=1)


def test_detections_events_and_updates_tell_resends_from_conflicts_too(
    api: FleetUnderTest,
) -> None:
    _register(api, "field-a")
    node = Node(api)
    image = jpeg_bytes()
    items = [detection(0, image=image), event(1), update(2, "shadow")]
    assert node.send("field-a", items).ranges == [(0, 2)]
    assert node.send("field-a", items) == Ack(boot_id="b1", ranges=[(0, 2)])  # a resend
    ack = node.send("field-a", [
        detection(0, label="Tomato___healthy", image=image),
        event(1, severity="alert"),
        update(2, "active"),
    ])  # fmt: skip
    assert ack.ranges == []
    assert {seq: reason.split(" is stored with another ")[1] for seq, reason in
            ack.rejected.items()} == {0: "label, top3", 1: "severity", 2: "state"}  # fmt: skip
    assert api.metric("agrifleet_conflicts_total") == 3
    (found,) = [e for e in api.get("/api/v1/devices/field-a/events") if e["boot_id"] == "fleet"]
    assert "detection/event/update" in found["message"] and "seq 0, 1, 2" in found["message"]
