"""The fast path for the hot message specifies: whatever a batch holds, parse_message gives
the same verdict as the contract's own validation (the same readings with the same UTC times,
the same rejected seqs and reasons, the same refusals)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from agrifleet.fleet.telemetry import parse
from agrifleet.fleet.telemetry.parse import CheckedBatch, parse_message
from tests.fleet.device import reading

TOPIC = "agrifleet/field-a/messages"
ODD: list[Any] = [
    "2026-06-01T12:00:00Z", "2026-06-01T12:00:00+00:00", "2026-06-01T12:00:00.123456Z",
    "2026-06-01T12:00:00.5+00:00", "2026-06-01T14:00:00+02:00", "2026-06-01T12:00:00-00:30",
    "2026-06-01 12:00:00Z", "2026-02-30T12:00:00Z", "2026-06-01T24:00:00Z",
    "2026-06-01T23:59:60Z", "2199-12-31T23:59:59Z", "2200-01-01T00:00:00Z",
    "2019-12-31T23:59:59Z", "1970-01-01T00:00:00Z", "1780000000", 1780000000, "2026-06-01",
    "2026-06-01T12:00:00", "2026-06-01T12:00:00.1234567Z", None,
]  # fmt: skip


def _verdict(payload: bytes) -> Any:
    result = parse_message("agrifleet", TOPIC, payload)
    if not isinstance(result, CheckedBatch):
        return result
    return ([r.model_dump(exclude={"kind"}) for r in result.readings], result.rejected,
            [r.ts.utcoffset() for r in result.readings])  # fmt: skip


@pytest.mark.parametrize("ts", ODD)
@pytest.mark.parametrize("synced", [True, False])
@pytest.mark.parametrize("value", [1.5, "NaN", "Infinity"])
def test_the_fast_path_agrees_with_the_contract(
    ts: Any, synced: bool, value: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    odd = reading(1) | {"ts": ts, "clock_synced": synced}
    body = json.dumps({"v": 1, "device_id": "field-a", "boot_id": "b1",
                       "items": [reading(0), odd, reading(2)]})  # fmt: skip
    if value != 1.5:  # JSON's non-standard literals, which pydantic reads
        body = body.replace('"value": 21.5}, {"kind": "reading", "seq": 2',
                            f'"value": {value}}}, {{"kind": "reading", "seq": 2', 1)  # fmt: skip
    payload = body.encode()
    fast = _verdict(payload)
    # the contract's way
    monkeypatch.setattr(parse, "_hot_times", lambda _batch: None)
    assert fast == _verdict(payload)
