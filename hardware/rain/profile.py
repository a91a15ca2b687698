"""A rain gauge's counter as data: where the tip count lives and how many mm one tip is."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from agrifleet.hardware import profiles
from agrifleet.hardware.modbus.profile import ModbusProfile

#: The quantity a rain gauge reports: mm fallen since the previous reading.
RAINFALL = "rainfall"


class RainGaugeProfile(BaseModel):
    """A tipping-bucket gauge counted by a Modbus pulse counter register."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    name: str
    description: str = ""
    source: str = Field("", title="where the register and bucket size come from")
    function: Literal[3, 4] = Field(3, title="3 = holding registers, 4 = input registers")
    address: int = Field(ge=0, le=0xFFFE, title="register of the running tip count, 0-based")
    words: Literal[1, 2] = Field(1, title="16-bit registers in the count (2 = 32-bit, high first)")
    mm_per_tip: float = Field(gt=0, le=10, title="rain in mm for one tip of the bucket")
    max_mm_per_reading: float = Field(
        100.0, gt=0,
        title="a larger rise between two readings is a counter reset (power loss), not rain",
    )

    @property
    def modulus(self) -> int:
        """The count wraps to 0 after modulus - 1."""
        return 1 << (16 * self.words)

    def counter_map(self) -> ModbusProfile:
        """The Modbus register map of the raw counter (what the driver and simulator serve)."""
        register = {
            "quantity": "rain_tips", "address": self.address, "words": self.words,
            "unit": "tips", "min": 0, "max": self.modulus - 1,
        }
        return ModbusProfile.model_validate(
            {"name": f"{self.name} counter", "function": self.function, "registers": [register]}
        )

    def tips_between(self, before: int, now: int) -> int | None:
        """Tips counted from ``before`` to ``now`` across a wrap; None for a counter reset."""
        tips = (now - before) % self.modulus
        if tips * self.mm_per_tip > self.max_mm_per_reading:
            return None
        return tips


def load_profile(name_or_path: str) -> RainGaugeProfile:
    """A shipped profile (``tipping-bucket-modbus``) or a user's TOML file by path."""
    return profiles.load("agrifleet.hardware.rain", name_or_path, RainGaugeProfile)


def shipped_profiles() -> list[str]:
    """Names of the shipped rain gauge profiles."""
    return profiles.shipped("agrifleet.hardware.rain")
