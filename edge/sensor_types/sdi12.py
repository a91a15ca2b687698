"""An SDI-12 probe (1200 baud 7E1)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from agrifleet.edge.sensor_types.base import SensorType
from agrifleet.hardware.sensor import Sensor


class Sdi12Sensor(SensorType):
    """An SDI-12 probe (1200 baud 7E1)."""

    type: Literal["sdi12"]
    address: str = Field(default="0", pattern=r"^[0-9A-Za-z]$", title="SDI-12 address")
    profile: str = Field(
        default="generic", min_length=1,
        title="Value names and units: a shipped profile name or the path of a TOML profile",
    )

    @field_validator("profile")
    @classmethod
    def _known_profile(cls, value: str) -> str:
        from agrifleet.hardware.sdi12 import load_profile

        load_profile(value)
        return value

    @field_validator("address", mode="before")
    @classmethod
    def _address_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) and 0 <= value <= 9 else value

    def open(self) -> Sensor:
        from agrifleet.hardware.sdi12 import Sdi12Probe

        return Sdi12Probe(self.port, address=self.address, profile=self.profile)
