"""A status's time follows the items' rules: ISO 8601 with a zone, within the contract's years;
anything else is refused as invalid_payload before it reaches the database."""

from __future__ import annotations

import json

import pytest

from agrifleet.fleet.telemetry.parse import CheckedStatus, Refusal, parse_message

TOPIC = "agrifleet/field-01/status"


def _status(ts: object) -> bytes:
    return json.dumps(
        {"v": 1, "device_id": "field-01", "boot_id": "b", "state": "online", "ts": ts}
    ).encode()


@pytest.mark.parametrize(
    "ts",
    [
        "0001-01-01T00:00:00+05:00",  # converting it to UTC overflows
        "9999-12-31T23:59:59-05:00",  # the same beyond year 9999
        "0001-01-01T00:00:00Z",
        "2026-12-01T12:00:00",  # no zone
        0,
        -1,
    ],
)
def test_a_status_with_an_impossible_time_is_refused(ts: object) -> None:
    got = parse_message("agrifleet", TOPIC, _status(ts))
    assert isinstance(got, Refusal)
    assert got.reason == "invalid_payload"
    assert got.detail.startswith("ts:")


def test_a_status_time_with_a_zone_is_kept_in_utc() -> None:
    got = parse_message("agrifleet", TOPIC, _status("2026-12-01T12:00:00+02:00"))
    assert isinstance(got, CheckedStatus)
    assert got.status.ts is not None
    assert got.status.ts.isoformat() == "2026-12-01T10:00:00+00:00"
