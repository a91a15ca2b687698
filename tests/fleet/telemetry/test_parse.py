"""Message checking specifies: a reason for every refusal, and per-item rejection (with the seq)
for items the contract refuses (times without a zone or out of range, impossible seqs) or a
database would not take (NaN, NUL, bad thumbnails, numbers beyond 64 bits)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

from agrifleet.contract import MAX_PAYLOAD_BYTES, MAX_SEQ
from agrifleet.fleet.telemetry.parse import CheckedBatch, CheckedStatus, Refusal, parse_message
from tests.fleet.device import batch, detection, event, jpeg_bytes, reading, update

TOPIC = "agrifleet/field-01/messages"


def _check(payload: bytes, topic: str = TOPIC) -> CheckedBatch | CheckedStatus | Refusal:
    return parse_message("agrifleet", topic, payload)


def test_a_good_batch_sorts_items_by_kind() -> None:
    image = jpeg_bytes()
    got = _check(batch("field-01", "b", [reading(0), detection(1, image=image), event(2)]))
    assert isinstance(got, CheckedBatch)
    assert [r.seq for r in got.readings] == [0]
    assert got.detections[0][1] == image
    assert [e.code for e in got.events] == ["sensor_silent"]
    assert got.rejected == {}


def test_refusal_reasons() -> None:
    cases = {
        b"": "malformed_json",
        b"\xff\xfe": "malformed_json",
        b'{"v": 1}': "invalid_payload",
        b"[1, 2]": "invalid_payload",
        json.dumps({"v": 2, "device_id": "field-01", "boot_id": "b",
                    "items": [reading(0)]}).encode(): "invalid_payload",
        batch("field-01", "b", []): "invalid_payload",
        batch("field-02", "b", [reading(0)]): "device_mismatch",
        b" " * (MAX_PAYLOAD_BYTES + 1): "oversized",
    }  # fmt: skip
    for payload, reason in cases.items():
        got = _check(payload)
        assert isinstance(got, Refusal), payload[:40]
        assert got.reason == reason, (payload[:40], got)
    assert _check(b"{}", "elsewhere/field-01/messages").reason == "unknown_topic"  # type: ignore[union-attr]


def test_items_a_database_would_refuse_are_rejected_with_their_seq() -> None:
    got = _check(batch("field-01", "b", [
        reading(0),
        reading(1, value=float("inf")),
        reading(2, sensor="soil\x00"),
        detection(3) | {"thumbnail_jpeg_b64": "***"},
        detection(4, label="x" * 200),
        reading(5) | {"seq": "five"},
        {"kind": "gossip", "seq": 6},
        {"no": "seq"},
    ]))  # fmt: skip
    assert isinstance(got, CheckedBatch)
    assert [r.seq for r in got.readings] == [0]
    assert set(got.rejected) == {1, 2, 3, 4, 6}
    assert "finite" in got.rejected[1]
    assert "NUL" in got.rejected[2]
    assert "base64" in got.rejected[3]
    assert "longer" in got.rejected[4]


def test_status_must_match_its_topic() -> None:
    status = {"v": 1, "device_id": "field-01", "boot_id": "b", "state": "online"}
    ok = _check(json.dumps(status).encode(), "agrifleet/field-01/status")
    assert isinstance(ok, CheckedStatus)
    other = _check(json.dumps(status).encode(), "agrifleet/field-02/status")
    assert isinstance(other, Refusal) and other.reason == "device_mismatch"


def test_update_items_are_storable_unless_a_number_overflows_its_column() -> None:
    got = _check(batch("field-01", "b", [
        update(0, "downloading", bytes_done=10, bytes_total=20),
        update(1, rollout_id=2**63),
        update(2, bytes_total=2**64),
        update(3, "shadow", gate={"images": 3, "agreement": 1, "mean_confidence": 0.9,
                                  "uncertain_rate": 0, "latency_ms": float("inf")}),
    ]))  # fmt: skip
    assert isinstance(got, CheckedBatch)
    assert [(u.seq, u.state) for u in got.updates] == [(0, "downloading")]
    assert set(got.rejected) == {1, 2, 3}
    assert "out of range" in got.rejected[1] and "out of range" in got.rejected[2]
    assert "finite" in got.rejected[3]


def test_times_must_be_iso_strings_with_a_zone_within_the_contract_years() -> None:
    refused = ["0001-01-01T00:00:00+00:00", "9999-12-31T23:59:59-01:00", "2200-01-01T00:00:00Z",
               0, 1780000000.5, "1780000000", "2026-06-01T12:00:00", "2026-06-01", True, None]
    got = _check(batch("field-01", "b", [
        reading(0, ts=datetime(2026, 6, 1, 14, tzinfo=timezone(timedelta(hours=2)))),
        reading(1) | {"ts": "2026-06-01T12:00:01Z"},
        reading(2, ts=datetime(2199, 12, 31, tzinfo=UTC)),
        reading(3, ts=datetime(1970, 1, 1, tzinfo=UTC)) | {"clock_synced": False},
        *(reading(10 + i) | {"ts": ts} for i, ts in enumerate(refused)),
    ]))  # fmt: skip
    assert isinstance(got, CheckedBatch)
    assert [r.seq for r in got.readings] == [0, 1, 2, 3]
    assert got.readings[0].ts == datetime(2026, 6, 1, 12, tzinfo=UTC)  # normalised to UTC
    assert got.readings[0].ts.utcoffset() == timedelta(0)
    assert set(got.rejected) == set(range(10, 10 + len(refused)))
    assert all(reason.startswith("invalid item: reading.ts: ") for reason in got.rejected.values())
    assert "zone" in got.rejected[16] and "not a number" in got.rejected[13]


def test_a_synchronised_clock_cannot_read_a_date_before_2020() -> None:
    old = datetime(2019, 12, 31, 23, 59, tzinfo=UTC)
    got = _check(batch("field-01", "b", [reading(0, ts=old),
                                         reading(1, ts=old) | {"clock_synced": False}]))
    assert isinstance(got, CheckedBatch)
    assert [r.seq for r in got.readings] == [1]
    assert "before 2020" in got.rejected[0]


def test_seqs_are_whole_numbers_up_to_2_to_the_53_and_any_other_is_named_but_not_counted() -> None:
    got = _check(batch("field-01", "b", [
        reading(0) | {"seq": MAX_SEQ},
        reading(1) | {"seq": MAX_SEQ + 1},
        reading(2) | {"seq": 2**63},
        reading(3) | {"seq": 3.0},
        reading(4) | {"seq": "4"},
        reading(5) | {"seq": -5},
    ]))  # fmt: skip
    assert isinstance(got, CheckedBatch)
    assert [r.seq for r in got.readings] == [MAX_SEQ]
    assert set(got.rejected) == {MAX_SEQ + 1, 2**63}  # the ack names them: the node drops them
    assert got.received_seqs() == [MAX_SEQ]  # but the gap report never counts them
