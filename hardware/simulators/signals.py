"""Slowly varying, plausible sensor values: a daily swing plus a little wander."""

from __future__ import annotations

import math
import random
import time
from typing import Protocol

#: Typical field ranges for quantities the simulators know (others use the profile's range).
TYPICAL: dict[str, tuple[float, float]] = {
    "soil_moisture": (22.0, 34.0),
    "soil_temperature": (12.0, 24.0),
    "soil_ec": (350.0, 900.0),
    "soil_ph": (6.2, 7.0),
    "nitrogen": (20.0, 60.0),
    "phosphorus": (10.0, 40.0),
    "potassium": (80.0, 200.0),
    "soil_permittivity": (12.0, 25.0),
    "soil_pore_water_ec": (1500.0, 4000.0),
}


#: Weather quantities that follow the day: (value at dawn, value in the mid-afternoon).
#: Air is coolest and most humid at dawn; leaves are wet with dew at dawn and dry by afternoon.
DAILY: dict[str, tuple[float, float]] = {
    "air_temperature": (11.0, 23.0),
    "relative_humidity": (97.0, 60.0),
    "leaf_wetness": (95.0, 0.0),
    "vapour_pressure": (1.2, 1.7),
}

#: Named weather for the daily cycles: ``fair`` (:data:`DAILY`), or ``blight``: warm, humid
#: nights with long dew, the weather late blight infects in (every day meets the Hutton
#: Criteria: minimum above 10 °C, more than 6 hours at RH >= 90 %).
WEATHER: dict[str, dict[str, tuple[float, float]]] = {
    "fair": DAILY,
    "blight": {
        "air_temperature": (13.0, 21.0),
        "relative_humidity": (99.0, 80.0),
        "leaf_wetness": (100.0, 20.0),
        "vapour_pressure": (1.4, 1.9),
    },
}

DAWN_HOUR = 5.0
WARMEST_HOUR = 14.0


class Signal(Protocol):
    """A simulated quantity: its value ``t`` seconds after the simulator started."""

    def value(self, t: float) -> float: ...


class DailyCycle:
    """A weather quantity over a day of ``day_s`` seconds: lowest or highest at dawn, a wander.

    The day starts at the wall clock's hour of day (UTC) so a simulator run at night reads
    night-time values; ``day_s`` below 86400 runs a compressed day for demos and tests.
    """

    def __init__(
        self,
        at_dawn: float,
        afternoon: float,
        rng: random.Random,
        *,
        day_s: float = 86400.0,
        start_hour: float | None = None,
        step: bool = False,
    ) -> None:
        if day_s <= 0:
            raise ValueError("day_s must be above 0")
        self.at_dawn, self.afternoon = at_dawn, afternoon
        self.rng = rng
        self.day_s = day_s
        now = time.gmtime()
        self.start_hour = (
            start_hour if start_hour is not None else now.tm_hour + now.tm_min / 60
        )
        self.step = step  # a wet/dry sensor: 0 or 1
        self.walk = 0.0

    def hour(self, t: float) -> float:
        """Hour of the simulated day at ``t`` seconds."""
        return (self.start_hour + 24.0 * t / self.day_s) % 24.0

    def value(self, t: float) -> float:
        """The value at ``t`` seconds since start."""
        h = self.hour(t)
        rise = WARMEST_HOUR - DAWN_HOUR
        if DAWN_HOUR <= h < WARMEST_HOUR:
            share = (1 - math.cos(math.pi * (h - DAWN_HOUR) / rise)) / 2
        else:
            since = (h - WARMEST_HOUR) % 24.0
            share = (1 + math.cos(math.pi * since / (24.0 - rise))) / 2
        self.walk = max(-0.05, min(0.05, self.walk + self.rng.uniform(-0.005, 0.005)))
        share = max(0.0, min(1.0, share + self.walk))
        value = self.at_dawn + (self.afternoon - self.at_dawn) * share
        if self.step:
            low, high = sorted((self.at_dawn, self.afternoon))
            return high if value >= (low + high) / 2 else low
        return value


class Drift:
    """A value inside [low, high] following a slow sine (one ``period_s``) plus a random walk."""

    def __init__(self, low: float, high: float, rng: random.Random, period_s: float = 600.0):
        self.low, self.high = low, high
        self.period_s = period_s
        self.rng = rng
        self.phase = rng.uniform(0, 2 * math.pi)
        self.walk = 0.0

    def value(self, t: float) -> float:
        """The value at ``t`` seconds since start."""
        mid, half = (self.low + self.high) / 2, (self.high - self.low) / 2
        self.walk = max(-0.2, min(0.2, self.walk + self.rng.uniform(-0.02, 0.02)))
        swing = 0.7 * math.sin(2 * math.pi * t / self.period_s + self.phase)
        return mid + half * max(-1.0, min(1.0, swing + self.walk))


def drift_for(
    quantity: str,
    low: float,
    high: float,
    rng: random.Random,
    *,
    day_s: float = 86400.0,
    weather: str = "fair",
    start_hour: float | None = None,
) -> Signal:
    """A daily cycle for weather quantities (of the named ``weather``), else a Drift; inside
    [low, high] either way."""
    if weather not in WEATHER:
        raise ValueError(f"unknown weather {weather!r}: {', '.join(WEATHER)}")
    if quantity in WEATHER[weather]:
        dawn, afternoon = WEATHER[weather][quantity]
        if high - low <= 1.0 and quantity == "leaf_wetness":  # a wet (1) / dry (0) sensor
            return DailyCycle(high, low, rng, day_s=day_s, start_hour=start_hour, step=True)
        return DailyCycle(
            max(low, min(high, dawn)), max(low, min(high, afternoon)), rng, day_s=day_s,
            start_hour=start_hour,
        )
    lo, hi = TYPICAL.get(quantity, (low + 0.3 * (high - low), low + 0.7 * (high - low)))
    lo, hi = max(lo, low), min(hi, high)
    if lo >= hi:
        lo, hi = low, high
    return Drift(lo, hi, rng)
