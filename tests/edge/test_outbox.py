"""The durable outbox: seqs never repeat, items survive SIGKILL, leave on Ack, obey the budget."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from agrifleet.contract import MAX_PAYLOAD_BYTES, Ack, Batch, Event, Reading
from agrifleet.edge.clock import Clock
from agrifleet.edge.items import Priority
from agrifleet.edge.outbox import ItemRefused, Outbox

ROOT = Path(__file__).resolve().parents[2]


def open_outbox(tmp_path: Path, boot_id: str = "boot-a", **kwargs) -> Outbox:
    return Outbox.open(tmp_path / "outbox.sqlite", device_id="field-07", boot_id=boot_id,
                       clock=Clock("always"), **kwargs)


def reading(value: float = 1.0, sensor: str = "soil") -> dict:
    return {"sensor": sensor, "quantity": "soil_moisture", "value": value, "unit": "%"}


def event(severity: str = "warning", code: str = "sensor_down") -> dict:
    return {"severity": severity, "code": code, "message": "probe silent", "sensor": "soil"}


def detection() -> dict:
    return {
        "camera": "leafcam", "label": "rust", "confidence": 0.9, "uncertain": False,
        "top3": [{"label": "rust", "confidence": 0.9}],
        "model": {"name": "leaf", "version": "1", "sha256": "a" * 64},
        "inference_ms": 12.0, "image_sha256": "b" * 64,
    }


def drain(outbox: Outbox) -> list[Batch]:
    batches = []
    while (taken := outbox.take_batch()) is not None:
        batches.append(Batch.model_validate_json(taken.payload))
    return batches


def test_seq_grows_by_one_and_continues_after_reopen(tmp_path):
    outbox = open_outbox(tmp_path)
    assert [outbox.emit("reading", reading(i), Priority.READING) for i in range(3)] == [0, 1, 2]
    assert outbox.emit_all([("reading", reading(), Priority.READING)] * 2) == [3, 4]
    outbox.close()
    again = open_outbox(tmp_path)
    assert again.emit("reading", reading(), Priority.READING) == 5
    assert again.stats().depth == 6
    again.close()
    other_boot = open_outbox(tmp_path, boot_id="boot-b")
    assert other_boot.emit("reading", reading(), Priority.READING) == 0


def test_items_leave_only_on_ack_and_rejected_ones_are_dead_lettered(tmp_path):
    outbox = open_outbox(tmp_path)
    for i in range(5):
        outbox.emit("reading", reading(i), Priority.READING)
    taken = outbox.take_batch()
    assert taken is not None and taken.seqs == (0, 1, 2, 3, 4)
    assert outbox.take_batch() is None, "items in flight are not taken twice"
    assert outbox.stats().depth == 5, "sending is not acknowledging"
    done = outbox.ack(Ack(boot_id="boot-a", ranges=[(0, 2)], rejected={3: "value out of range"}))
    assert done == {0, 1, 2, 3}
    stats = outbox.stats()
    assert (stats.depth, stats.dead_letters) == (1, 1)
    outbox.release(taken)
    again = outbox.take_batch()
    assert again is not None and again.seqs == (4,)
    outbox.ack(Ack(boot_id="boot-b", ranges=[(4, 4)]))  # another boot's seq 4 is not ours
    assert outbox.stats().depth == 1
    outbox.ack(Ack(boot_id="boot-a", ranges=[(4, 4)]))
    assert outbox.stats().depth == 0 and outbox.stats().stored_bytes == 0


def test_batch_payload_is_a_valid_contract_batch_in_seq_order(tmp_path):
    outbox = open_outbox(tmp_path)
    outbox.emit("reading", reading(21.5), Priority.READING)
    outbox.emit("detection", detection(), Priority.DETECTION)
    outbox.emit("event", event(), Priority.EVENT)
    (batch,) = drain(outbox)
    assert (batch.v, batch.device_id, batch.boot_id) == (1, "field-07", "boot-a")
    assert [i.seq for i in batch.items] == [0, 1, 2]
    assert [i.kind for i in batch.items] == ["reading", "detection", "event"]
    first = batch.items[0]
    assert isinstance(first, Reading)
    assert first.value == 21.5 and first.unit == "%" and first.clock_synced


def test_detections_drain_before_readings_and_alerts_first(tmp_path):
    outbox = open_outbox(tmp_path, batch_items=2)
    for i in range(3):
        outbox.emit("reading", reading(i), Priority.READING)
    outbox.emit("detection", detection(), Priority.DETECTION)
    outbox.emit("event", event("alert", "frost"), Priority.EVENT)  # alert severity → ALERT
    kinds = [[i.kind for i in b.items] for b in drain(outbox)]
    assert kinds == [["detection", "event"], ["reading", "reading"], ["reading"]]


@pytest.mark.parametrize("order, first", [("oldest-first", [0, 1]), ("newest-first", [3, 4])])
def test_drain_order_within_a_priority(tmp_path, order, first):
    outbox = open_outbox(tmp_path, batch_items=2, drain_order=order)
    for i in range(5):
        outbox.emit("reading", reading(i), Priority.READING)
    batches = drain(outbox)
    assert [i.seq for i in batches[0].items] == first
    assert sorted(i.seq for b in batches for i in b.items) == [0, 1, 2, 3, 4]


def test_batches_respect_the_byte_limit_and_hold_one_boot(tmp_path):
    old = open_outbox(tmp_path, boot_id="boot-old")
    old.emit("reading", reading(), Priority.READING)
    old.close()
    outbox = open_outbox(tmp_path, batch_bytes=4096, batch_items=5000)
    outbox.emit_all([("reading", reading(i), Priority.READING) for i in range(100)])
    batches = []
    while (taken := outbox.take_batch()) is not None:
        assert len(taken.payload) <= 4096 <= MAX_PAYLOAD_BYTES
        batches.append(Batch.model_validate_json(taken.payload))
    assert len(batches) > 2
    assert batches[0].boot_id == "boot-old" and len(batches[0].items) == 1
    assert sum(len(b.items) for b in batches) == 101


def test_full_outbox_drops_oldest_readings_first_and_keeps_alerts(tmp_path):
    outbox = open_outbox(tmp_path, max_bytes=64 * 1024)
    outbox.emit("event", event("alert", "frost"), Priority.ALERT)
    outbox.emit("detection", detection(), Priority.DETECTION)
    seqs = outbox.emit_all([("reading", reading(i), Priority.READING) for i in range(600)])
    stats = outbox.stats()
    assert stats.stored_bytes <= 64 * 1024
    assert stats.dropped > 0
    items = [i for b in drain(outbox) for i in b.items]
    kinds = [i.kind for i in items]
    assert "detection" in kinds
    assert any(i.kind == "event" and i.code == "frost" for i in items)
    assert any(i.kind == "event" and i.code == "outbox_full" for i in items)
    kept = sorted(i.seq for i in items if i.kind == "reading")
    assert None not in seqs, "a new reading makes room by evicting older ones"
    assert kept == seqs[-len(kept):], "the newest readings are kept, the oldest went first"
    assert len(kept) < len(seqs)


def test_a_reading_never_evicts_an_alert(tmp_path):
    outbox = open_outbox(tmp_path, max_bytes=64 * 1024)
    alerts = 0
    while outbox.stats().stored_bytes < 60 * 1024:
        outbox.emit_all([("event", event("alert", f"frost-{alerts + i}"), Priority.ALERT)
                         for i in range(10)])
        alerts += 10
    for i in range(50):
        outbox.emit("reading", reading(i), Priority.READING)
    items = [i for b in drain(outbox) for i in b.items]
    assert sum(1 for i in items if i.kind == "event" and i.severity == "alert") == alerts
    assert outbox.stats().dropped > 0


def test_a_dropped_item_still_uses_its_seq_so_the_fleet_sees_a_gap(tmp_path):
    outbox = open_outbox(tmp_path, max_bytes=64 * 1024)
    while outbox.stats().dropped == 0:  # full of alerts: now alerts replace older alerts
        outbox.emit_all([("event", event("alert"), Priority.ALERT)] * 20)
    before = outbox.next_seq
    assert outbox.emit("reading", reading(), Priority.READING) is None
    assert outbox.next_seq > before


@pytest.mark.parametrize(
    "kind, body, needle",
    [
        ("weather", {}, "unknown item kind"),
        ("reading", {"sensor": "soil", "quantity": "m", "unit": "%"}, "value"),
        ("reading", {**reading(), "seq": 7}, "the outbox sets"),
        ("reading", reading(float("nan")), "nan"),
        ("event", {**event(), "severity": "panic"}, "severity"),
    ],
)
def test_bad_items_are_refused_without_using_a_seq(tmp_path, kind, body, needle):
    outbox = open_outbox(tmp_path)
    with pytest.raises(ItemRefused, match=needle):
        outbox.emit(kind, body, Priority.READING)
    assert outbox.emit("reading", reading(), Priority.READING) == 0
    assert outbox.stats().depth == 1


WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from agrifleet.edge.clock import Clock
    from agrifleet.edge.items import Priority
    from agrifleet.edge.outbox import Outbox

    outbox = Outbox.open(Path(sys.argv[1]), device_id="field-07", boot_id="boot-a",
                         clock=Clock("always"))
    while True:
        seq = outbox.emit("reading", {"sensor": "s", "quantity": "q", "value": 1.0, "unit": "%"},
                          Priority.READING)
        print(seq, flush=True)
    """
)


def test_items_survive_sigkill_and_seq_continues_without_repeats(tmp_path):
    path = tmp_path / "outbox.sqlite"
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], cwd=ROOT,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    confirmed = []
    for line in proc.stdout:
        confirmed.append(int(line))
        if len(confirmed) >= 200:
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    confirmed += [int(line) for line in proc.stdout.read().split()]
    outbox = open_outbox(tmp_path)
    stored = sorted(i.seq for b in drain(outbox) for i in b.items)
    assert set(confirmed) <= set(stored), "every committed item survived the kill"
    assert stored == list(range(len(stored))), "no gaps, no repeats"
    assert outbox.emit("reading", reading(), Priority.READING) == len(stored)
    assert json.loads(json.dumps(outbox.stats().depth)) == len(stored) + 1


def test_the_dropped_counter_counts_only_items_really_lost(tmp_path):
    outbox = open_outbox(tmp_path, max_bytes=64 * 1024, batch_items=50)
    outbox.emit_all([("reading", reading(i), Priority.READING) for i in range(150)])
    first, second = outbox.take_batch(), outbox.take_batch()
    assert first is not None and second is not None and second.seqs[0] == 50
    outbox.emit_all([("reading", reading(i), Priority.READING) for i in range(300)])
    assert outbox.stats().depth < 450, "both batches were evicted while in flight"
    outbox.ack(Ack(boot_id="boot-a", ranges=[(0, 49)]))  # the fleet had stored the first
    outbox.release(second)  # the second never arrived: its evicted items are gone for good
    delivered = set(first.seqs) | {i.seq for b in drain(outbox) for i in b.items}
    lost = set(range(outbox.next_seq)) - delivered
    assert set(second.seqs) <= lost
    assert outbox.stats().dropped == len(lost)


def test_outbox_full_names_what_it_drops(tmp_path):
    outbox = open_outbox(tmp_path, max_bytes=64 * 1024)
    while outbox.stats().dropped == 0:
        outbox.emit("detection", detection(), Priority.DETECTION)
    (full,) = [i for b in drain(outbox) for i in b.items
               if isinstance(i, Event) and i.code == "outbox_full"]
    assert "dropping the oldest detections" in full.message and "reading" not in full.message


def test_a_new_outbox_and_its_wal_are_private_whatever_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        outbox = open_outbox(tmp_path)
        outbox.emit("reading", reading(), Priority.READING)
        files = [tmp_path / "outbox.sqlite", tmp_path / "outbox.sqlite-wal"]
        assert {f.name: f.stat().st_mode & 0o777 for f in files} == {f.name: 0o600 for f in files}
        outbox.close()
    finally:
        os.umask(old)
