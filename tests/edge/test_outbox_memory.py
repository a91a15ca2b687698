"""The memory buffer an unwritable outbox falls back on: bounded, oldest readings go first, an
alert is never evicted for something less important, items come back in seq order."""

from __future__ import annotations

from agrifleet.edge.items import Priority
from agrifleet.edge.outbox.memory import Held, MemoryBuffer


def held(seq: int, priority: Priority, size: int = 100) -> Held:
    return Held(seq, "event" if priority <= Priority.EVENT else "reading", priority, 0.0, 0.0,
                True, "{}", size)


def test_over_its_bound_the_oldest_least_important_items_go_first():
    memory = MemoryBuffer(500)
    assert memory.add(held(0, Priority.ALERT)) == []
    for seq in range(1, 5):
        assert memory.add(held(seq, Priority.READING)) == []
    assert [h.seq for h in memory.add(held(5, Priority.DETECTION))] == [1]
    assert [h.seq for h in memory.add(held(6, Priority.READING))] == [2]
    assert [h.seq for h in memory] == [0, 3, 4, 5, 6] and memory.bytes == 500


def test_a_reading_never_evicts_an_alert_it_is_dropped_itself():
    memory = MemoryBuffer(300)
    for seq in range(3):
        memory.add(held(seq, Priority.ALERT))
    newcomer = held(3, Priority.READING)
    assert memory.add(newcomer) == [newcomer]
    assert [h.seq for h in memory.add(held(4, Priority.ALERT))] == [0], "alerts replace alerts"
    assert len(memory) == 3


def test_removing_acknowledged_items_frees_their_bytes():
    memory = MemoryBuffer(1000)
    for seq in range(6):
        memory.add(held(seq, Priority.READING if seq % 2 else Priority.EVENT))
    assert sorted(h.seq for h in memory.remove({1, 2, 9})) == [1, 2]
    assert [h.seq for h in memory] == [0, 3, 4, 5] and memory.bytes == 400


def test_a_full_buffer_of_forty_thousand_readings_takes_new_ones_by_dropping_the_oldest():
    memory = MemoryBuffer(4_000_000)
    for seq in range(40_000):
        memory.add(held(seq, Priority.READING))
    dropped = [memory.add(held(seq, Priority.READING)) for seq in range(40_000, 50_000)]
    assert sum(len(d) for d in dropped) == 10_000 and len(memory) == 40_000
    assert next(iter(memory)).seq == 10_000
