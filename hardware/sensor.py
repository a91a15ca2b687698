"""What every sensor driver gives the agent: measurements, or one domain error."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Measurement:
    quantity: str  # e.g. "soil_moisture", "latitude"
    value: float
    unit: str  # e.g. "%", "degC", "uS/cm", "deg"


class SensorError(Exception):
    """The sensor did not answer, or answered with a frame we refuse (bad CRC, garbage).

    Drivers turn every library or serial error into this one exception.
    """


class Sensor(Protocol):
    """A driver for one probe on one serial line."""

    def read(self) -> list[Measurement]:
        """Take one set of measurements; raises SensorError, never returns a corrupt value."""
        ...

    def close(self) -> None: ...
