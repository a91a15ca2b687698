"""An NMEA 0183 GPS receiver (GGA, RMC)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from agrifleet.edge.sensor_types.base import SensorType
from agrifleet.hardware.sensor import Sensor


class NmeaGpsSensor(SensorType):
    """An NMEA 0183 GPS receiver."""

    type: Literal["nmea-gps"]
    baudrate: int = Field(default=9600, gt=0)

    def open(self) -> Sensor:
        from agrifleet.hardware.nmea import NmeaGps

        return NmeaGps(self.port, baudrate=self.baudrate)
