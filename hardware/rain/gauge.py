"""A tipping-bucket rain gauge read as a Modbus pulse counter: mm fallen per reading interval."""

from __future__ import annotations

import logging

from agrifleet.hardware.modbus.probe import ModbusSoilProbe
from agrifleet.hardware.rain.profile import RAINFALL, RainGaugeProfile, load_profile
from agrifleet.hardware.sensor import Measurement

logger = logging.getLogger(__name__)


class RainGauge:
    """Reads the tip count; each reading after the first reports the mm since the one before.

    The first reading only sets the baseline (rain before it is unknown, so nothing is
    reported); a count that wrapped past its maximum is counted across the wrap; a rise above
    the profile's ``max_mm_per_reading`` means the counter was reset (power loss): the new count
    becomes the baseline and that interval reports nothing rather than a false figure.
    """

    def __init__(
        self,
        port: str,
        *,
        baudrate: int = 9600,
        address: int = 1,
        profile: str | RainGaugeProfile = "tipping-bucket-modbus",
        timeout: float = 1.0,
    ) -> None:
        self.profile = profile if isinstance(profile, RainGaugeProfile) else load_profile(profile)
        self._counter = ModbusSoilProbe(
            port, baudrate=baudrate, address=address, profile=self.profile.counter_map(),
            timeout=timeout,
        )
        self._last: int | None = None

    @property
    def port(self) -> str:
        return self._counter.port

    def read(self) -> list[Measurement]:
        """Rain since the previous reading, in mm (empty on the first reading and after a reset)."""
        (count,) = self._counter.read()
        now = int(count.value)
        before, self._last = self._last, now
        if before is None:
            logger.info("rain gauge %s: tip count %d is the baseline", self.port, now)
            return []
        tips = self.profile.tips_between(before, now)
        if tips is None:
            logger.warning(
                "rain gauge %s: count went from %d to %d, more than %g mm: taken as a counter "
                "reset, this interval's rain is unknown", self.port, before, now,
                self.profile.max_mm_per_reading,
            )
            return []
        return [Measurement(RAINFALL, round(tips * self.profile.mm_per_tip, 3), "mm")]

    def close(self) -> None:
        """Close the port; the baseline is kept, so the next reading still counts from it."""
        self._counter.close()
