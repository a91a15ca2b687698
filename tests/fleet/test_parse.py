"""Message checking specifies: a reason for every refusal, and per-item rejection (with the seq)
for items pydantic accepts but a database would not (NaN, NUL, bad thumbnails)."""

from __future__ import annotations

import json

from agrifleet.contract import MAX_PAYLOAD_BYTES
from fleet.parse import CheckedBatch, CheckedStatus, Refusal, parse_message
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
    ]))  # fmt: skip
    assert isinstance(got, CheckedBatch)
    assert [(u.seq, u.state) for u in got.updates] == [(0, "downloading")]
    assert set(got.rejected) == {1, 2}
    assert all("out of range" in reason for reason in got.rejected.values())
