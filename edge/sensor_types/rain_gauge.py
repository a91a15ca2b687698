"""A tipping-bucket rain gauge read as a Modbus pulse counter: reports mm per interval."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from agrifleet.edge.sensor_types.base import SensorType
from agrifleet.hardware.sensor import Sensor


class RainGaugeSensor(SensorType):
    """A tipping-bucket rain gauge read as a Modbus pulse counter: reports mm per interval."""

    type: Literal["rain-gauge"]
    baudrate: int = Field(default=9600, gt=0)
    address: int = Field(default=1, ge=1, le=247, title="Modbus slave address of the counter")
    profile: str = Field(
        default="tipping-bucket-modbus", min_length=1,
        title="Counter register and bucket size: a shipped profile name or a TOML path",
    )

    @field_validator("profile")
    @classmethod
    def _known_profile(cls, value: str) -> str:
        from agrifleet.hardware.rain import load_profile

        load_profile(value)
        return value

    def open(self) -> Sensor:
        from agrifleet.hardware.rain import RainGauge

        return RainGauge(
            self.port, baudrate=self.baudrate, address=self.address, profile=self.profile
        )
