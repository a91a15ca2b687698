"""Hourly weather for the risk tables: a day written as 24 temperatures and humidities."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

from agrifleet.fleet.risk.series import Day, Hour

START = date(2026, 7, 1)


def day(
    n: int,
    *,
    temp: float | Sequence[float | None] = 15.0,
    rh: float | Sequence[float | None] = 80.0,
    humid_hours: int | None = None,
    wet: Sequence[float | None] | None = None,
    rain: float | None = None,
    missing: int = 0,
) -> Day:
    """Day ``n`` after START: ``humid_hours`` hours at RH 95 and the rest at ``rh`` (80);
    the last ``missing`` hours have no data; ``rain`` mm falls in the first hour."""
    d = START + timedelta(days=n)
    temps: Sequence[float | None] = [temp] * 24 if isinstance(temp, int | float) else temp
    hums: Sequence[float | None] = [rh] * 24 if isinstance(rh, int | float) else rh
    if humid_hours is not None:
        hums = [95.0] * humid_hours + [80.0] * (24 - humid_hours)
    hours = []
    for i in range(24):
        start = datetime(d.year, d.month, d.day, tzinfo=UTC) + timedelta(hours=i)
        if i >= 24 - missing:
            hours.append(Hour(start))
            continue
        hours.append(Hour(
            start, air_temperature=temps[i], relative_humidity=hums[i],
            leaf_wetness=None if wet is None else wet[i],
            rainfall=None if rain is None else (rain if i == 0 else 0.0), nodes=1,
        ))
    return Day(d, tuple(hours))
