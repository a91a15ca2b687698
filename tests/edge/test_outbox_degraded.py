"""An outbox on a disk that fills up or a card that turns read-only: it keeps numbering items,
holds the newest in memory and sends them from there, says it is degraded with the real sqlite
error (logged once), and recovers by itself with a budget that matches the file."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from agrifleet.contract import Ack, Batch, Event, seq_ranges
from agrifleet.edge.clock import Clock
from agrifleet.edge.health import HealthProbe
from agrifleet.edge.items import Priority
from agrifleet.edge.outbox import (
    EXIT_OUTBOX_BROKEN,
    EXIT_OUTBOX_UNWRITABLE,
    UNWRITABLE,
    Outbox,
    OutboxBroken,
)
from tests.edge.small_disk import card, fill, tmpfs
from tests.edge.test_clock import REAL_NOW, NodeTime, node_clock


def open_outbox(folder: Path, marks: Path, **kwargs) -> Outbox:
    kwargs = {"retry_s": 0, "memory_bytes": 64 * 1024, **kwargs}
    return Outbox.open(folder / "outbox.sqlite", device_id="field-07", boot_id="boot-a",
                       clock=Clock("always"), seq_mark_dir=marks, **kwargs)


def reading(i: int) -> dict:
    return {"sensor": "soil", "quantity": "soil_moisture", "value": float(i), "unit": "%"}


def drain_and_ack(outbox: Outbox) -> list:
    items = []
    while (taken := outbox.take_batch()) is not None:
        batch = Batch.model_validate_json(taken.payload)
        items += batch.items
        outbox.ack(Ack(boot_id=batch.boot_id, ranges=seq_ranges([i.seq for i in batch.items])))
    return items


def emit_until_degraded(outbox: Outbox, start: int = 0, limit: int = 20000) -> int:
    i = start
    while not outbox.degraded:
        assert i < start + limit, "the outbox never noticed the disk was full"
        outbox.emit("reading", reading(i), Priority.READING)
        i += 1
    return i


def test_a_full_disk_keeps_seqs_honest_and_recovers_with_a_true_budget(tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    with tmpfs(tmp_path / "disk", "2m") as disk:
        outbox = open_outbox(disk, tmp_path)
        delivered = {i.seq: i for i in drain_and_ack(outbox)}
        for i in range(20):
            outbox.emit("reading", reading(i), Priority.READING)
        filler = fill(disk)
        n = emit_until_degraded(outbox, 20)
        (why,) = outbox.degraded.values()
        assert "database or disk is full" in why and UNWRITABLE in outbox.degraded
        seqs = [outbox.emit("reading", reading(i), Priority.READING) for i in range(n, n + 600)]
        assert seqs[-1] == outbox.next_seq - 1, "every item still gets the next seq"
        stats = outbox.stats()
        assert stats.memory_items > 0 and stats.depth >= stats.memory_items
        assert stats.dropped > 0, "64 KiB of memory cannot hold 600 readings"
        health = HealthProbe(outbox, Clock("always"), disk).collect()
        assert health.degraded == outbox.degraded and health.outbox_depth == stats.depth

        filler.unlink()
        outbox.emit("reading", reading(-1), Priority.READING)  # the next write recovers
        assert outbox.degraded == {}
        assert outbox.stats().memory_items == 0
        assert outbox.stats().stored_bytes == outbox.stored_bytes_in_file()
        delivered.update({i.seq: i for i in drain_and_ack(outbox)})
        after = outbox.stats()
        assert (after.depth, after.stored_bytes) == (0, 0), "acks leave nothing counted behind"
        outbox.close()

    missing = set(range(outbox.next_seq)) - delivered.keys()
    assert len(missing) == after.dropped, "the gaps the fleet sees are exactly the dropped items"
    codes = {i.code: i for i in delivered.values() if isinstance(i, Event)}
    assert codes[UNWRITABLE].severity == "alert"
    assert "database or disk is full" in codes[UNWRITABLE].message
    assert f"{after.dropped} lost" in codes["outbox_writable"].message
    text = caplog.text
    assert text.count("cannot store items") == 1, "one warning per episode"
    assert "cannot rollback" not in text and "Traceback" not in text


def test_a_worn_out_card_is_sent_from_memory_and_the_outbox_reopens_the_new_one(tmp_path):
    with card(tmp_path) as sd:
        outbox = open_outbox(sd.folder, tmp_path)
        outbox.emit_all([("reading", reading(i), Priority.READING) for i in range(5)])
        sd.wear_out()
        for i in range(5, 10):
            outbox.emit("reading", reading(i), Priority.READING)
        (why,) = outbox.degraded.values()
        assert "disk I/O error" in why or "readonly" in why
        taken = outbox.take_batch()
        assert taken is not None
        batch = Batch.model_validate_json(taken.payload)
        assert [i.seq for i in batch.items] == list(range(11)), \
            "the five stored, the alert and the five held in memory go out together"
        assert next(i for i in batch.items if isinstance(i, Event)).code == UNWRITABLE
        outbox.ack(Ack(boot_id="boot-a", ranges=[(0, 10)]))
        assert outbox.stats().memory_items == 0, "acknowledged memory items are done"
        assert outbox.take_batch() is None, "acked items in the broken file are not sent again"

        sd.replace()
        outbox.emit("reading", reading(10), Priority.READING)
        assert outbox.degraded == {}
        items = drain_and_ack(outbox)
        assert [i.seq for i in items] == [11, 12], "the old acks were applied, nothing repeats"
        assert [getattr(i, "code", None) for i in items] == ["outbox_writable", None]
        assert outbox.stats().depth == 0 and outbox.stored_bytes_in_file() == 0
        outbox.close()


def test_seqs_held_only_in_memory_are_not_used_again_after_a_restart(tmp_path):
    with card(tmp_path) as sd:
        (tmp_path / "marks-ram").mkdir()
        outbox = open_outbox(sd.folder, tmp_path / "marks-ram")
        assert outbox.emit("reading", reading(0), Priority.READING) == 0
        sd.wear_out()
        handed_out = [outbox.emit("reading", reading(i), Priority.READING) for i in range(1, 6)]
        assert handed_out == [1, 3, 4, 5, 6], "the outbox_unwritable alert took seq 2"
        used = outbox.next_seq
        outbox.close()  # the card is still broken: what memory held is lost
        sd.replace()
        again = open_outbox(sd.folder, tmp_path / "marks-ram")
        assert again.emit("reading", reading(6), Priority.READING) == used
        assert [i.seq for i in drain_and_ack(again)] == [0, used]
        again.close()


def test_a_card_already_read_only_at_start_is_named_as_such_and_never_moved_aside(tmp_path):
    with card(tmp_path) as sd:
        path = sd.folder / "outbox.sqlite"
        open_outbox(sd.folder, tmp_path).close()
        sd.wear_out()
        with pytest.raises(OutboxBroken) as caught:
            open_outbox(sd.folder, tmp_path, on_corrupt="move-aside")
        assert caught.value.exit_code == EXIT_OUTBOX_UNWRITABLE != EXIT_OUTBOX_BROKEN
        assert str(caught.value).startswith(f"outbox {path} cannot be written (")
        assert path.exists() and not list(sd.folder.glob("*.broken-*"))


def test_a_little_free_space_already_moves_memory_to_the_file_in_chunks(tmp_path):
    with tmpfs(tmp_path / "disk", "4m") as disk:
        outbox = open_outbox(disk, tmp_path, memory_bytes=2 * 1024 * 1024)
        outbox.emit("reading", reading(0), Priority.READING)
        filler = fill(disk)
        n = emit_until_degraded(outbox, 1)
        outbox.emit_all([("reading", reading(i), Priority.READING) for i in range(n, n + 3000)])
        held = outbox.stats().memory_items
        assert held > 2000 and outbox.stats().dropped == 0
        with filler.open("r+b") as f:  # 300 KiB come back: not enough for everything
            f.truncate(filler.stat().st_size - 300 * 1024)
        outbox.emit("reading", reading(-1), Priority.READING)
        partly = outbox.stats().memory_items
        assert outbox.degraded and 0 < partly < held, "some chunks went to the file"
        filler.unlink()
        outbox.emit("reading", reading(-2), Priority.READING)
        assert not outbox.degraded and outbox.stats().memory_items == 0
        stats = outbox.stats()
        assert stats.dropped == 0 and stats.depth == outbox.next_seq
        assert stats.stored_bytes == outbox.stored_bytes_in_file()
        outbox.close()


def test_timestamps_held_in_memory_are_corrected_when_the_clock_syncs(tmp_path):
    t = NodeTime()
    with card(tmp_path) as sd:
        outbox = Outbox.open(sd.folder / "outbox.sqlite", device_id="field-07", boot_id="b",
                             clock=node_clock(t), retry_s=0, seq_mark_dir=tmp_path)
        outbox.emit("reading", reading(0), Priority.READING)  # uptime 100, stored
        sd.wear_out()
        t.advance(60)
        outbox.emit("reading", reading(1), Priority.READING)  # uptime 160, in memory
        t.advance(40)
        t.ntp_sync()  # the wall clock is REAL_NOW at uptime 200
        sd.replace()
        outbox.emit("reading", reading(2), Priority.READING)
        items = drain_and_ack(outbox)
        outbox.close()
    readings = {i.value: i for i in items if not isinstance(i, Event)}
    assert all(i.clock_synced for i in items)
    assert [readings[v].ts.timestamp() for v in (0.0, 1.0)] == [REAL_NOW - 100, REAL_NOW - 40]
