"""Sequence-number bookkeeping: which seqs of a boot arrived, and which never did."""

from __future__ import annotations

from collections.abc import Iterable

#: The first item of every boot has this seq, so missing items before the first arrival count.
FIRST_SEQ = 0


def merge_ranges(ranges: Iterable[Iterable[int]], seqs: Iterable[int]) -> list[list[int]]:
    """Sorted, merged inclusive ranges covering ``ranges`` and ``seqs``."""
    old = [[int(a), int(b)] for a, b in ranges]
    new = sorted(set(seqs))
    if new and new[-1] - new[0] == len(new) - 1:  # one run of seqs: what a batch holds
        if not old or new[0] > old[-1][1] + 1:  # past every range (live traffic, backlogs)
            return [*old, [new[0], new[-1]]]
        if new[0] >= old[-1][0]:  # overlapping or extending the last range
            old[-1][1] = max(old[-1][1], new[-1])
            return old
    out: list[list[int]] = []
    for first, last in sorted([*old, *([s, s] for s in new)]):
        if out and first <= out[-1][1] + 1:
            out[-1][1] = max(out[-1][1], last)
        else:
            out.append([first, last])
    return out


def count(ranges: Iterable[Iterable[int]]) -> int:
    return sum(b - a + 1 for a, b in ranges)


def missing_ranges(ranges: list[list[int]], limit: int | None = None) -> list[tuple[int, int]]:
    """Inclusive ranges between FIRST_SEQ and the highest received seq that never arrived."""
    out: list[tuple[int, int]] = []
    expected = FIRST_SEQ
    for first, last in ranges:
        if first > expected:
            out.append((expected, first - 1))
            if limit is not None and len(out) >= limit:
                break
        expected = max(expected, last + 1)
    return out


def missing_count(ranges: list[list[int]]) -> int:
    if not ranges:
        return 0
    return ranges[-1][1] - FIRST_SEQ + 1 - count(r for r in ranges if r[1] >= FIRST_SEQ)
