"""Gap bookkeeping specifies: received seqs merge into ranges in any order, and the missing
ranges are exactly the seqs from 0 to the highest received that never arrived."""

from __future__ import annotations

import itertools
import random

from agrifleet.fleet.telemetry import gaps


def test_merge_in_any_order_and_twice() -> None:
    ranges = gaps.merge_ranges([], [5, 3, 4, 9])
    assert ranges == [[3, 5], [9, 9]]
    assert gaps.merge_ranges(ranges, [4, 5, 6, 8]) == [[3, 6], [8, 9]]
    assert gaps.merge_ranges([[3, 6], [8, 9]], [7]) == [[3, 9]]


def _covered(ranges: list[list[int]]) -> set[int]:
    return {s for a, b in ranges for s in range(a, b + 1)}


def test_merge_is_the_union_whatever_the_seqs() -> None:
    """A batch's run of seqs (the fast path) and scattered seqs give the same ranges as a set."""
    rng = random.Random(7)
    for _ in range(3000):
        ranges = gaps.merge_ranges([], rng.sample(range(60), rng.randint(0, 30)))
        start = rng.randint(0, 70)
        for seqs in (list(range(start, start + rng.randint(1, 8))),
                     [rng.randint(0, 70) for _ in range(rng.randint(0, 8))]):  # fmt: skip
            merged = gaps.merge_ranges(iter(ranges), iter(seqs))
            assert _covered(merged) == _covered(ranges) | set(seqs)
            assert all(b + 1 < c for (_, b), (c, _) in itertools.pairwise(merged))
            assert all(a <= b for a, b in merged)


def test_missing_ranges_start_at_zero() -> None:
    ranges = [[2, 4], [8, 8], [10, 11]]
    assert gaps.missing_ranges(ranges) == [(0, 1), (5, 7), (9, 9)]
    assert gaps.missing_count(ranges) == 6
    assert gaps.missing_ranges(ranges, limit=2) == [(0, 1), (5, 7)]


def test_nothing_missing() -> None:
    assert gaps.missing_ranges([[0, 99]]) == []
    assert gaps.missing_count([[0, 99]]) == 0
    assert gaps.missing_count([]) == 0
