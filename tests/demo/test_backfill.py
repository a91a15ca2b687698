"""The demo's past readings thin out with age: dense enough for each chart's buckets (15 minutes
over a day, 2 hours over a week, a day over a season) and few enough to send in seconds."""

from __future__ import annotations

from agrifleet.demo.backfill import poll_times


def test_polls_cover_the_season_densely_where_charts_need_it() -> None:
    now = 1_800_000_000.0
    times = poll_times(120, now)
    assert times == sorted(times) and times[0] == now - 120 * 86400 and times[-1] < now
    day = [t for t in times if t >= now - 86400]
    week = [t for t in times if t >= now - 7 * 86400]
    assert len(day) >= 96  # every 15 minutes: each 15-minute bucket of the day chart
    assert len(week) >= 84  # at least one per 2-hour bucket of the week chart
    days = {int((now - t) // 86400) for t in times}
    assert set(range(120)) <= days  # every day of the season chart
    assert len(times) * 7 < 4000  # readings per node: the demo sends them in seconds


def test_no_days_is_no_polls() -> None:
    assert poll_times(0, 1_800_000_000.0) == []
