"""Ingestion specifies: a real device over a real Mosquitto → stored once, acked after commit;
bad, foreign and oversized messages are counted and never block the good ones behind them."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from sqlmodel import Session, select

from agrifleet.contract import MAX_PAYLOAD_BYTES, MAX_SEQ
from agrifleet.fleet.devices.tables import Device
from agrifleet.fleet.settings import FleetSettings
from agrifleet.fleet.telemetry.tables import ModelUpdate
from tests.fleet.conftest import FleetUnderTest, running_fleet
from tests.fleet.device import (
    batch,
    detection,
    event,
    jpeg_bytes,
    reading,
    update,
    wait_until,
)
from tests.services import Broker


def test_batch_is_stored_and_acked(fleet: FleetUnderTest) -> None:
    dev = fleet.device("field-01")
    ack = dev.send("boot-1", [reading(0), reading(1, value=22.0), reading(2, value=23.0)])
    assert ack.boot_id == "boot-1"
    assert ack.ranges == [(0, 2)]
    assert ack.rejected == {}
    rows = fleet.get("/api/v1/devices/field-01/readings", order="asc")
    assert [(r["seq"], r["value"]) for r in rows] == [(0, 21.5), (1, 22.0), (2, 23.0)]
    assert rows[0]["ts"].startswith("2026-06-01T12:00:00")


def test_same_batch_twice_is_stored_once_and_acked_twice(fleet: FleetUnderTest) -> None:
    dev = fleet.device("field-02")
    items = [reading(s) for s in range(5)]
    first = dev.send("boot-1", items)
    second = dev.send("boot-1", items)
    assert first.ranges == second.ranges == [(0, 4)]
    assert len(fleet.get("/api/v1/devices/field-02/readings")) == 5
    assert fleet.metric('agrifleet_items_stored_total{kind="reading"}') == 5
    assert fleet.metric('agrifleet_items_duplicate_total{kind="reading"}') == 5


def test_unknown_device_is_refused_and_not_acked(fleet: FleetUnderTest) -> None:
    ghost = fleet.device("ghost-9", register=False)
    ghost.publish(batch("ghost-9", "boot-1", [reading(0)]))
    refused = 'agrifleet_messages_refused_total{reason="unknown_device"}'
    wait_until(lambda: fleet.metric(refused) == 1, what="the refusal to be counted")
    assert ghost.acks.empty()
    # Registering it later lets the device's next delivery in.
    fleet.register("ghost-9")
    assert ghost.send("boot-1", [reading(0)]).ranges == [(0, 0)]


def test_bad_messages_are_counted_and_the_next_good_one_is_stored(fleet: FleetUnderTest) -> None:
    dev = fleet.device("field-03")
    dev.publish(b"{not json")
    dev.publish(
        json.dumps({"v": 1, "device_id": "field-03", "boot_id": "b", "items": "many"}).encode()
    )
    # Over the fleet's limit: the broker's message_size_limit drops it before the fleet
    # (tests/fleet/telemetry/test_parse.py checks the fleet's own "oversized" refusal).
    dev.publish(b"[" + b" " * MAX_PAYLOAD_BYTES + b"]")
    dev.publish(batch("field-04", "boot-1", [reading(0)]))  # another device's id in the payload
    ack = dev.send("boot-1", [reading(0)])
    assert ack.ranges == [(0, 0)]
    metrics = fleet.metrics()
    for reason in ("malformed_json", "invalid_payload", "device_mismatch"):
        assert f'agrifleet_messages_refused_total{{reason="{reason}"}} 1' in metrics
    assert 'agrifleet_messages_refused_total{reason="oversized"} 1' not in metrics
    assert len(fleet.get("/api/v1/devices/field-03/readings")) == 1


def test_bad_items_are_rejected_in_the_ack_and_good_neighbours_stored(
    fleet: FleetUnderTest,
) -> None:
    dev = fleet.device("field-05")
    wrong_type = reading(1) | {"value": "wet"}
    not_finite = reading(2) | {"value": float("nan")}
    ack = dev.send("boot-1", [reading(0), wrong_type, not_finite, reading(3)])
    assert ack.ranges == [(0, 0), (3, 3)]
    assert set(ack.rejected) == {1, 2}
    assert "value" in ack.rejected[1]
    assert "finite" in ack.rejected[2]
    assert [r["seq"] for r in fleet.get("/api/v1/devices/field-05/readings", order="asc")] == [
        0,
        3,
    ]
    # Rejected items were received: they are not gaps.
    gaps = fleet.get("/api/v1/devices/field-05/gaps")
    assert gaps[0]["missing"] == 0


def test_gaps_are_the_seqs_never_received(fleet: FleetUnderTest) -> None:
    dev = fleet.device("field-06")
    dev.send("boot-1", [reading(s) for s in (2, 3, 4, 8)])
    dev.send("boot-1", [reading(s) for s in (10, 11)])
    dev.send("boot-2", [reading(s) for s in (0, 1)])
    gaps = {g["boot_id"]: g for g in fleet.get("/api/v1/devices/field-06/gaps")}
    assert gaps["boot-1"]["missing_ranges"] == [[0, 1], [5, 7], [9, 9]]
    assert gaps["boot-1"]["missing"] == 6
    assert gaps["boot-1"]["received"] == 6
    assert gaps["boot-1"]["highest_seq"] == 11
    assert gaps["boot-2"]["missing"] == 0
    # A late delivery fills the gap.
    dev.send("boot-1", [reading(s) for s in (5, 6, 7)])
    detail = fleet.get("/api/v1/devices/field-06")
    assert detail["gaps"] == {"boots": 2, "boots_with_gaps": 1, "missing": 3}


def test_status_sets_online_health_and_position(fleet: FleetUnderTest) -> None:
    dev = fleet.device("field-07")
    dev.status("online", boot_id="boot-1", outbox_depth=12, cpu_temp_c=51.5)
    dev.send(
        "boot-1",
        [
            reading(0, 52.1, sensor="gps", quantity="latitude", unit="deg"),
            reading(1, 13.4, sensor="gps", quantity="longitude", unit="deg"),
            reading(2, 31.0, sensor="soil", quantity="moisture"),
            reading(3, 33.0, sensor="soil", quantity="moisture"),
        ],
    )
    wait_until(lambda: fleet.get("/api/v1/devices/field-07")["online"], what="online")
    detail = fleet.get("/api/v1/devices/field-07")
    assert detail["boot_id"] == "boot-1"
    assert detail["health"]["outbox_depth"] == 12
    assert detail["position"]["latitude"] == 52.1
    assert detail["position"]["longitude"] == 13.4
    latest = {(r["sensor"], r["quantity"]): r["value"] for r in detail["latest"]}
    assert latest[("soil", "moisture")] == 33.0
    assert detail["last_seen"] is not None
    assert fleet.metric("agrifleet_devices_online") == 1
    dev.status("offline", boot_id="boot-1")
    wait_until(lambda: not fleet.get("/api/v1/devices/field-07")["online"], what="offline")
    assert fleet.get("/api/v1/devices/field-07")["health"]["outbox_depth"] == 12
    assert fleet.metric("agrifleet_devices_online") == 0


def test_a_device_silent_too_long_is_offline_whatever_its_status_said(
    fleet: FleetUnderTest,
) -> None:
    dev = fleet.device("field-09")
    dev.status("online", boot_id="boot-1")
    wait_until(lambda: fleet.get("/api/v1/devices/field-09")["online"], what="online")
    # The node loses power while the broker is down: no last will ever says "offline".
    silent_since = datetime.now(UTC) - timedelta(seconds=fleet_settings(fleet).offline_after_s + 5)
    with Session(fleet.app.state.engine) as session:
        device = session.get(Device, "field-09")
        assert device is not None and device.online
        device.last_seen = silent_since
        session.add(device)
        session.commit()
    assert fleet.get("/api/v1/devices/field-09")["online"] is False
    assert [d["online"] for d in fleet.get("/api/v1/devices")] == [False]
    assert fleet.metric("agrifleet_devices_online") == 0
    dev.status("online", boot_id="boot-2")  # it comes back
    wait_until(lambda: fleet.get("/api/v1/devices/field-09")["online"], what="online again")
    assert fleet.metric("agrifleet_devices_online") == 1


def fleet_settings(fleet: FleetUnderTest) -> FleetSettings:
    settings: FleetSettings = fleet.app.state.settings
    return settings


def test_detections_with_thumbnails_and_events_are_stored(fleet: FleetUnderTest) -> None:
    dev = fleet.device("field-08")
    image = jpeg_bytes()
    ack = dev.send(
        "boot-1",
        [
            detection(0, image=image),
            detection(1, label="Tomato___healthy"),
            event(2),
            detection(3) | {"thumbnail_jpeg_b64": "aGVsbG8="},  # base64 of "hello": not a JPEG
        ],
    )
    assert ack.ranges == [(0, 2)]
    assert ack.rejected == {3: "thumbnail is not a JPEG"}
    again = dev.send("boot-1", [detection(0, image=image)])
    assert again.ranges == [(0, 0)]
    found = fleet.get("/api/v1/detections", device="field-08")
    assert len(found) == 2
    blight = fleet.get("/api/v1/detections", label="Tomato___Late_blight")
    assert len(blight) == 1 and blight[0]["has_image"]
    assert blight[0]["top3"][0]["label"] == "Tomato___Late_blight"
    one = fleet.get(f"/api/v1/detections/{blight[0]['id']}")
    assert one["model_name"] == "leafnet"
    picture = fleet.client.get(f"/api/v1/detections/{one['id']}/image", headers=fleet.viewer)
    assert picture.status_code == 200
    assert picture.headers["content-type"] == "image/jpeg"
    assert picture.content == image
    healthy = fleet.get("/api/v1/detections", label="Tomato___healthy")[0]
    assert not healthy["has_image"]
    missing = fleet.client.get(f"/api/v1/detections/{healthy['id']}/image", headers=fleet.viewer)
    assert missing.status_code == 404
    events = fleet.get("/api/v1/devices/field-08/events")
    assert [(e["seq"], e["code"]) for e in events] == [(2, "sensor_silent")]


def test_metrics_report_ingestion_and_latency(fleet: FleetUnderTest) -> None:
    dev = fleet.device("field-09")
    dev.send("boot-1", [reading(s) for s in range(3)])
    text = fleet.metrics()
    assert 'agrifleet_messages_ingested_total{topic="messages"} 1' in text
    assert "# TYPE agrifleet_ingest_latency_seconds histogram" in text
    assert "agrifleet_ingest_latency_seconds_count 3" in text
    assert 'agrifleet_ingest_latency_seconds_bucket{le="+Inf"} 3' in text
    assert "agrifleet_devices_registered 1" in text
    assert "agrifleet_acks_published_total 1" in text


def test_messages_sent_while_the_fleet_is_down_are_stored_after_restart(
    database_url: str, broker: Broker
) -> None:
    settings = FleetSettings(
        database_url=database_url, mqtt_url=broker.fleet_url, mqtt_client_id="fleet-restart"
    )
    device = None
    try:
        with running_fleet(settings) as running:  # first life: register the device, store seq 0
            running.broker = broker
            assert running.app.state.ingestor.wait_connected(10)
            device = running.device("field-10")
            assert device.send("boot-1", [reading(0)]).ranges == [(0, 0)]
        assert device is not None
        device.publish(batch("field-10", "boot-1", [reading(1), reading(2)]))  # fleet is down
        with running_fleet(settings) as running:  # second life: the broker kept the session's queue
            ack = device.next_ack(timeout=15)
            assert ack.ranges == [(1, 2)]
            rows = running.get("/api/v1/devices/field-10/readings", order="asc")
            assert [r["seq"] for r in rows] == [0, 1, 2]
    finally:
        if device is not None:
            device.close()


def test_update_items_are_stored_once_and_acked(fleet: FleetUnderTest) -> None:
    dev = fleet.device("field-11")
    gate = {"images": 20, "agreement": 0.95, "mean_confidence": 0.8, "uncertain_rate": 0.05,
            "latency_ms": 80.0}  # fmt: skip
    items = [
        update(0, "downloading", bytes_done=1024, bytes_total=4096),
        reading(1),
        update(2, "shadow", gate=gate),
        update(3, "failed", reason="self-test: accuracy 0.41 < 0.80"),
    ]
    ack = dev.send("boot-1", items)
    assert ack.ranges == [(0, 3)]
    assert ack.rejected == {}
    assert dev.send("boot-1", items).ranges == [(0, 3)]  # a resend: acked, stored once
    with Session(fleet.app.state.engine) as session:
        rows = session.exec(select(ModelUpdate).order_by(ModelUpdate.seq)).all()  # type: ignore[arg-type]
    assert [(u.seq, u.state, u.rollout_id) for u in rows] == [
        (0, "downloading", 1), (2, "shadow", 1), (3, "failed", 1)
    ]  # fmt: skip
    assert (rows[0].bytes_done, rows[0].bytes_total) == (1024, 4096)
    assert rows[1].gate == {**gate, "answered": None, "both_answered": None}  # an older node
    assert rows[2].reason == "self-test: accuracy 0.41 < 0.80"
    assert all(u.device_id == "field-11" and u.boot_id == "boot-1" for u in rows)
    assert fleet.metric('agrifleet_items_stored_total{kind="update"}') == 3
    assert fleet.metric('agrifleet_items_duplicate_total{kind="update"}') == 3


def test_a_poison_message_among_good_ones_of_several_devices_blocks_nobody(
    fleet: FleetUnderTest,
) -> None:
    devices = [fleet.device(f"field-2{i}") for i in range(3)]
    poisoned = devices[1]
    for dev in devices:  # all queued before the writer takes them, most likely in one group
        items = [reading(s) for s in range(17)]
        if dev is poisoned:
            items[8] = reading(8) | {"seq": 2**63}
        dev.publish(batch(dev.device_id, "boot-1", items))
    for dev in devices:
        ack = dev.next_ack()
        if dev is poisoned:
            assert ack.ranges == [(0, 7), (9, 16)] and list(ack.rejected) == [2**63]
        else:
            assert ack.ranges == [(0, 16)] and ack.rejected == {}
    assert len(fleet.get("/api/v1/devices/field-21/readings", limit=100)) == 16
    gaps = fleet.get("/api/v1/devices/field-21/gaps")[0]
    assert (gaps["highest_seq"], gaps["missing"]) == (16, 1)  # seq 8 never came; 2^63 is not one


def test_impossible_seqs_and_times_leave_the_gap_report_and_queries_sane(
    fleet: FleetUnderTest,
) -> None:
    dev = fleet.device("field-30")
    ack = dev.send("boot-1", [
        reading(0),
        reading(1) | {"seq": 2**63 - 1},
        reading(2) | {"ts": "0001-01-01T00:00:00+00:00"},
        reading(3) | {"ts": 0},
        reading(4) | {"ts": "2026-06-01T12:00:04"},
        reading(5),
        reading(6) | {"seq": MAX_SEQ},  # within the contract, but a billion past the boot
    ])  # fmt: skip
    assert ack.ranges == [(0, 0), (5, 5)]
    assert set(ack.rejected) == {2**63 - 1, 2, 3, 4, MAX_SEQ}
    assert ack.rejected[MAX_SEQ].startswith("seq_jump: ")
    gaps = fleet.get("/api/v1/devices/field-30/gaps")[0]
    assert (gaps["highest_seq"], gaps["missing"]) == (5, 1)  # only seq 1, never sent as such
    assert [r["seq"] for r in fleet.get("/api/v1/devices/field-30/readings", order="asc")] == [
        0, 5
    ]  # fmt: skip
    assert fleet.get("/api/v1/devices/field-30/readings", bucket=3600)[0]["count"] == 2


def test_a_reading_from_the_future_never_pins_latest_or_position(fleet: FleetUnderTest) -> None:
    dev = fleet.device("field-31")
    now = datetime.now(UTC)
    gps = {"sensor": "gps", "unit": "deg"}
    dev.send("boot-1", [
        reading(0, 52.1, quantity="latitude", ts=now, **gps),
        reading(1, 13.4, quantity="longitude", ts=now, **gps),
        reading(2, 30.0, ts=now),
        reading(3, 0.0, quantity="latitude", ts=datetime(2099, 1, 1, tzinfo=UTC), **gps),
        reading(4, 99.0, ts=datetime(2099, 1, 1, tzinfo=UTC)),
    ])  # fmt: skip
    later = datetime.now(UTC)
    dev.send("boot-1", [reading(5, 31.0, ts=later), reading(6, 52.2, quantity="latitude",
                                                            ts=later, **gps)])  # fmt: skip
    detail = fleet.get("/api/v1/devices/field-31")
    latest = {r["quantity"]: r["value"] for r in detail["latest"]}
    assert latest == {"latitude": 52.2, "longitude": 13.4, "moisture": 31.0}
    assert detail["position"]["latitude"] == 52.2
    future = [r["seq"] for r in fleet.get("/api/v1/devices/field-31/readings") if r["future"]]
    assert sorted(future) == [3, 4]
    assert fleet.metric("agrifleet_ingest_latency_seconds_sum") >= 0
    assert fleet.metric("agrifleet_ingest_latency_seconds_count") == 5


def test_a_conflicting_duplicate_is_rejected_and_recorded_an_exact_one_is_silent(
    fleet: FleetUnderTest,
) -> None:
    dev = fleet.device("field-32")
    assert dev.send("boot-1", [reading(0), reading(1)]).ranges == [(0, 1)]
    assert dev.send("boot-1", [reading(0), reading(1)]).ranges == [(0, 1)]  # a plain resend
    assert fleet.get("/api/v1/devices/field-32/events") == []
    ack = dev.send("boot-1", [reading(1, value=99.0), reading(2)])
    assert ack.ranges == [(2, 2)] and set(ack.rejected) == {1}
    assert ack.rejected[1].startswith("duplicate_conflict: ")
    assert fleet.metric("agrifleet_conflicts_total") == 1
    (found,) = fleet.get("/api/v1/devices/field-32/events")
    assert found["code"] == "duplicate_conflict" and "seq 1" in found["message"]
    values = [r["value"] for r in fleet.get("/api/v1/devices/field-32/readings", order="asc")]
    assert values == [21.5, 21.5, 21.5]  # the stored item stays
