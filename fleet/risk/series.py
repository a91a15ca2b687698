"""Hourly weather series of a field: the mean of its nodes per hour, missing hours marked.

Each node's readings are averaged within the hour first (rainfall: summed, it is mm per
reading interval), then the nodes' figures are averaged, so a node reporting twice as often
does not weigh twice as much and a node going offline leaves the others' mean, not a gap. An
hour no node reported a quantity in is ``None``: models decide what that means, nothing here
fills it in.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

#: The quantities the risk models read (fixed names, as the sensors report them).
AIR_TEMPERATURE = "air_temperature"
RELATIVE_HUMIDITY = "relative_humidity"
LEAF_WETNESS = "leaf_wetness"
RAINFALL = "rainfall"
QUANTITIES = (AIR_TEMPERATURE, RELATIVE_HUMIDITY, LEAF_WETNESS, RAINFALL)

HOUR = timedelta(hours=1)


@dataclass(frozen=True)
class Sample:
    """One reading: which node, when, what, how much, in which unit."""

    device_id: str
    ts: datetime
    quantity: str
    value: float
    unit: str = ""


@dataclass(frozen=True)
class Hour:
    """One hour of a field's weather (``None``: no node reported that quantity this hour)."""

    start: datetime
    air_temperature: float | None = None
    relative_humidity: float | None = None
    leaf_wetness: float | None = None  # % of the leaf wet (a wet/dry sensor's 1 is 100 %)
    rainfall: float | None = None  # mm in the hour
    nodes: int = 0  # nodes that reported anything this hour

    @property
    def weather_known(self) -> bool:
        """Whether temperature and humidity are both known (what every model needs)."""
        return self.air_temperature is not None and self.relative_humidity is not None


@dataclass(frozen=True)
class Day:
    """The 24 hours of one day (UTC), in order; missing hours are Hours with ``None``s."""

    date: date
    hours: tuple[Hour, ...]

    @property
    def missing(self) -> int:
        """Hours without temperature or humidity."""
        return sum(1 for h in self.hours if not h.weather_known)

    @property
    def known(self) -> list[Hour]:
        return [h for h in self.hours if h.weather_known]

    @property
    def has_wetness(self) -> bool:
        """Whether a leaf wetness sensor reported on this day."""
        return any(h.leaf_wetness is not None for h in self.hours)

    @property
    def has_rainfall(self) -> bool:
        """Whether a rain gauge reported on this day."""
        return any(h.rainfall is not None for h in self.hours)

    def rainfall(self) -> float | None:
        """mm fallen this day (None without any rain gauge reading)."""
        if not self.has_rainfall:
            return None
        return round(sum(h.rainfall or 0.0 for h in self.hours), 3)


def _hour_of(moment: datetime) -> datetime:
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return moment.replace(minute=0, second=0, microsecond=0)


def _wetness_percent(value: float, unit: str) -> float:
    """A wetness reading as % wet: a 0/1 wet/dry sensor (no unit) reads 0 or 100."""
    return value if unit == "%" else 100.0 * value


def hourly(samples: Iterable[Sample], start: datetime, end: datetime) -> list[Hour]:
    """One Hour per hour from ``start`` (rounded down) until ``end``, means of the nodes."""
    first = _hour_of(start)
    per_node: dict[tuple[datetime, str, str], list[float]] = defaultdict(list)
    for s in samples:
        if s.quantity not in QUANTITIES:
            continue
        value = _wetness_percent(s.value, s.unit) if s.quantity == LEAF_WETNESS else s.value
        if value != value:  # nan: never averaged in
            continue
        per_node[(_hour_of(s.ts), s.quantity, s.device_id)].append(value)
    per_hour: dict[tuple[datetime, str], list[float]] = defaultdict(list)
    nodes: dict[datetime, set[str]] = defaultdict(set)
    for (hour, quantity, device), values in per_node.items():
        node_value = sum(values) if quantity == RAINFALL else sum(values) / len(values)
        per_hour[(hour, quantity)].append(node_value)
        nodes[hour].add(device)
    out = []
    hour = first
    while hour < end:
        figures = {
            q: round(sum(v) / len(v), 4)
            for q in QUANTITIES
            if (v := per_hour.get((hour, q)))
        }
        out.append(Hour(hour, nodes=len(nodes.get(hour, ())), **figures))
        hour += HOUR
    return out


def days(hours: list[Hour]) -> list[Day]:
    """Whole UTC days of ``hours``; an hour absent from the list is a missing hour."""
    by_start = {h.start: h for h in hours}
    dates = sorted({h.start.date() for h in hours})
    out = []
    for d in dates:
        midnight = datetime(d.year, d.month, d.day, tzinfo=UTC)
        slots = tuple(
            by_start.get(midnight + i * HOUR, Hour(midnight + i * HOUR)) for i in range(24)
        )
        out.append(Day(d, slots))
    return out
