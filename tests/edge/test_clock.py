"""Clock trust: items taken before the wall clock is synchronised get their ts fixed from uptime."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from agrifleet.contract import Batch
from agrifleet.edge.clock import (
    SANITY_FLOOR,
    Clock,
    fast_wall,
    kernel_clock_synced,
    system_boot_id,
    uptime_s,
)
from agrifleet.edge.items import Priority
from agrifleet.edge.outbox import Outbox

REAL_NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC).timestamp()


class NodeTime:
    """The wall clock and uptime of a Pi without RTC: boots in 1970, NTP sets it later."""

    def __init__(self) -> None:
        self.uptime = 100.0
        self.wall = 0.0 + self.uptime  # the kernel starts counting at the epoch
        self.kernel_synced: bool | None = False

    def advance(self, seconds: float) -> None:
        self.uptime += seconds
        self.wall += seconds

    def ntp_sync(self) -> None:
        self.wall = REAL_NOW
        self.kernel_synced = True


def node_clock(t: NodeTime) -> Clock:
    return Clock("auto", wall=lambda: t.wall, uptime=lambda: t.uptime,
                 kernel_synced=lambda: t.kernel_synced, check_interval_s=0)


def test_the_real_kernel_query_answers_without_crashing():
    assert kernel_clock_synced() in (True, False, None)
    assert uptime_s() > 0
    assert system_boot_id() == system_boot_id()


def test_trust_needs_the_kernel_and_a_date_after_the_floor():
    t = NodeTime()
    clock = node_clock(t)
    assert not clock.synced()
    t.kernel_synced = True  # kernel happy but the date is 1970: still untrusted
    assert not clock.synced()
    t.ntp_sync()
    assert clock.synced() and clock.now().ts == REAL_NOW
    t.kernel_synced = False
    assert clock.synced(), "once trusted, the clock stays trusted"


def test_where_the_kernel_cannot_tell_the_floor_decides():
    t = NodeTime()
    t.kernel_synced = None
    t.wall = SANITY_FLOOR.timestamp() + 10
    assert node_clock(t).synced()


def test_overrides():
    t = NodeTime()
    assert Clock("always", wall=lambda: t.wall, kernel_synced=lambda: False).synced()
    t.ntp_sync()
    assert not Clock("never", wall=lambda: t.wall, kernel_synced=lambda: True).synced()


def test_timestamps_taken_before_sync_are_corrected_from_uptime(tmp_path):
    t = NodeTime()
    outbox = Outbox.open(tmp_path / "o.sqlite", device_id="field-07", boot_id="b",
                         clock=node_clock(t))
    body = {"sensor": "soil", "quantity": "soil_moisture", "value": 30.0, "unit": "%"}
    outbox.emit("reading", body, Priority.READING)  # uptime 100
    t.advance(60)
    outbox.emit("reading", body, Priority.READING)  # uptime 160
    early = Batch.model_validate_json(outbox.take_batch().payload)  # type: ignore[union-attr]
    assert [i.clock_synced for i in early.items] == [False, False]
    assert early.items[0].ts.year == 1970
    outbox.release_all()

    t.advance(40)  # uptime 200
    t.ntp_sync()  # now REAL_NOW at uptime 200
    outbox.emit("reading", body, Priority.READING)
    batch = Batch.model_validate_json(outbox.take_batch().payload)  # type: ignore[union-attr]
    ts = [i.ts.timestamp() for i in batch.items]
    assert [i.clock_synced for i in batch.items] == [True, True, True]
    assert ts == [REAL_NOW - 100, REAL_NOW - 40, REAL_NOW]


def test_items_of_an_earlier_boot_are_not_corrected(tmp_path):
    t = NodeTime()
    path = tmp_path / "o.sqlite"
    body = {"sensor": "soil", "quantity": "soil_moisture", "value": 30.0, "unit": "%"}
    first = Outbox.open(path, device_id="field-07", boot_id="boot-1", clock=node_clock(t))
    first.emit("reading", body, Priority.READING)
    first.close()
    t.ntp_sync()
    second = Outbox.open(path, device_id="field-07", boot_id="boot-2", clock=node_clock(t))
    second.emit("reading", body, Priority.READING)
    old = Batch.model_validate_json(second.take_batch().payload)  # type: ignore[union-attr]
    assert old.boot_id == "boot-1"
    assert not old.items[0].clock_synced and old.items[0].ts.year == 1970


def test_a_fast_clock_reads_its_start_at_the_real_start_and_runs_scale_times_faster():
    real = [1000.0]
    start = datetime(2026, 7, 1, tzinfo=UTC)
    wall = fast_wall(start, datetime.fromtimestamp(1000.0, UTC), 3600.0, wall=lambda: real[0])
    assert wall() == start.timestamp()
    real[0] += 24.0  # 24 real seconds: a day
    assert wall() == start.timestamp() + 86400.0
    for bad in (0.0, -1.0, float("inf")):
        with pytest.raises(ValueError, match="scale"):
            fast_wall(start, start, bad)
