"""A Modbus RTU probe on RS-485: soil (``soil-7in1``), air (``xy-md02``), leaf wetness…"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from agrifleet.edge.sensor_types.base import SensorType
from agrifleet.hardware.sensor import Sensor


class ModbusSoilSensor(SensorType):
    """A Modbus RTU probe on RS-485: soil (``soil-7in1``), air (``xy-md02``), leaf wetness…

    ``modbus`` and ``modbus-soil`` are the same type: any register map profile works with both.
    """

    type: Literal["modbus-soil", "modbus"]
    baudrate: int = Field(default=9600, gt=0)
    address: int = Field(default=1, ge=1, le=247, title="Modbus slave address")
    profile: str = Field(
        default="soil-7in1", min_length=1,
        title="Register map: a shipped profile name or the path of your own TOML profile",
    )

    @field_validator("profile")
    @classmethod
    def _known_profile(cls, value: str) -> str:
        from agrifleet.hardware.modbus import load_profile

        load_profile(value)  # ProfileError is a ValueError with a clear message
        return value

    def open(self) -> Sensor:
        from agrifleet.hardware.modbus import ModbusSoilProbe

        return ModbusSoilProbe(
            self.port, baudrate=self.baudrate, address=self.address, profile=self.profile
        )
