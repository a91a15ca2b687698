"""Slowly varying, plausible sensor values: a daily swing plus a little wander."""

from __future__ import annotations

import math
import random

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


def drift_for(quantity: str, low: float, high: float, rng: random.Random) -> Drift:
    """A Drift for a quantity, inside both its typical range and [low, high]."""
    lo, hi = TYPICAL.get(quantity, (low + 0.3 * (high - low), low + 0.7 * (high - low)))
    lo, hi = max(lo, low), min(hi, high)
    if lo >= hi:
        lo, hi = low, high
    return Drift(lo, hi, rng)
