"""A tipping-bucket rain gauge's Modbus pulse counter on a pseudo-terminal, with showers."""

from __future__ import annotations

import time

from agrifleet.hardware.rain.profile import RainGaugeProfile, load_profile
from agrifleet.hardware.simulators.modbus import ModbusSoilSimulator


class RainGaugeSimulator(ModbusSoilSimulator):
    """Serves the running tip count; showers come on some simulated hours, or by ``tip()``.

    Each hour of a day of ``day_s`` seconds rains with probability ``shower_chance`` at 1-20
    tips; the count wraps at the register's maximum like a real counter. ``set_count()`` moves
    the counter (a wrap, or a reset as after power loss), ``tip(n)`` adds tips now.
    """

    kind = "rain-gauge"

    def __init__(
        self,
        profile: str | RainGaugeProfile = "tipping-bucket-modbus",
        address: int = 1,
        *,
        link_dir: str | None = None,
        seed: int | None = None,
        day_s: float = 86400.0,
        shower_chance: float = 0.1,
    ) -> None:
        self.gauge = profile if isinstance(profile, RainGaugeProfile) else load_profile(profile)
        super().__init__(
            self.gauge.counter_map(), address, link_dir=link_dir, seed=seed, day_s=day_s
        )
        self.day_s = day_s
        self.shower_chance = shower_chance
        self._showers: list[int] = []  # tips in each simulated hour so far
        self._extra = 0  # tips from tip() and set_count()

    def tip(self, n: int = 1) -> None:
        """Tip the bucket ``n`` times now."""
        with self._lock:
            self._extra += n

    def set_count(self, count: int) -> None:
        """Make the counter read ``count`` now (e.g. near the wrap, or 0 after a reset)."""
        with self._lock:
            self._extra += count - self.count()

    def count(self) -> int:
        """The counter's value now."""
        hours = 24.0 * (time.monotonic() - self.started_at) / self.day_s
        while len(self._showers) <= int(hours):
            rains = self.rng.random() < self.shower_chance
            self._showers.append(self.rng.randint(1, 20) if rains else 0)
        done = sum(self._showers[: int(hours)])
        current = int(self._showers[int(hours)] * (hours - int(hours)))
        return (done + current + self._extra) % self.gauge.modulus

    def values(self) -> dict[str, float]:
        return {"rain_tips": float(self.count())}
