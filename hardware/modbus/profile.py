"""Modbus register maps as data: which registers hold which quantity, with scale and valid range."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from agrifleet.hardware import profiles
from agrifleet.hardware.sensor import Measurement, SensorError

#: Most registers one read (function 0x03/0x04) may ask for.
MAX_BLOCK = 125


class Register(BaseModel):
    """One measured quantity: where it lives and how raw words become engineering units."""

    # nan or inf (TOML has both) would make every reading refused, or none: not a range.
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    quantity: profiles.QuantityName = Field(title="snake_case quantity name, e.g. soil_moisture")
    address: int = Field(ge=0, le=0xFFFF, title="register address, 0-based (0x0012 = 40019)")
    words: Literal[1, 2] = Field(1, title="16-bit registers in the value (2 = 32-bit, high first)")
    unit: str = Field(title="unit after scaling, e.g. '%', 'degC', 'uS/cm'")
    scale: float = Field(1.0, title="engineering value = raw * scale + offset")
    offset: float = 0.0
    signed: bool = Field(False, title="two's complement (e.g. temperatures below zero)")
    min: float = Field(title="smallest plausible value; below it the reading is refused")
    max: float = Field(title="largest plausible value; above it the reading is refused")

    @model_validator(mode="after")
    def _sane(self) -> Register:
        if self.scale == 0:
            raise ValueError("scale must not be 0")
        if self.min >= self.max:
            raise ValueError(f"min ({self.min}) must be below max ({self.max})")
        if self.address + self.words > 0x10000:
            raise ValueError("register runs past address 0xFFFF")
        return self

    def decode(self, raw_words: list[int]) -> float:
        """Engineering value of this register's raw 16-bit words."""
        raw = 0
        for word in raw_words:
            raw = (raw << 16) | word
        bits = 16 * self.words
        if self.signed and raw >= 1 << (bits - 1):
            raw -= 1 << bits
        return round(raw * self.scale + self.offset, 9)

    def encode(self, value: float) -> list[int]:
        """Raw words for an engineering value (what a probe would put in its registers)."""
        bits = 16 * self.words
        raw = round((value - self.offset) / self.scale) & ((1 << bits) - 1)
        return [(raw >> (16 * i)) & 0xFFFF for i in reversed(range(self.words))]


class ModbusProfile(BaseModel):
    """A probe model's register map and serial defaults."""

    model_config = ConfigDict(extra="forbid")

    name: str
    description: str = ""
    source: str = Field("", title="where the map comes from (manual, version, page)")
    baudrate: int = Field(9600, title="the probe's factory baud rate (documentation)")
    parity: Literal["N", "E", "O"] = "N"
    stopbits: Literal[1, 2] = 1
    function: Literal[3, 4] = Field(3, title="3 = holding registers, 4 = input registers")
    max_gap: int = Field(0, ge=0, le=16, title="unused registers a read may span to save a request")
    registers: list[Register] = Field(min_length=1)

    @model_validator(mode="after")
    def _no_overlap(self) -> ModbusProfile:
        names = [r.quantity for r in self.registers]
        if len(set(names)) != len(names):
            raise ValueError(f"a quantity is listed twice: {names}")
        taken: dict[int, str] = {}
        for reg in self.registers:
            for addr in range(reg.address, reg.address + reg.words):
                if addr in taken:
                    raise ValueError(f"{reg.quantity} and {taken[addr]} share register {addr:#06x}")
                taken[addr] = reg.quantity
        return self

    def to_measurements(self, words: dict[int, int]) -> list[Measurement]:
        """Measurements from the words read, refusing any value outside its valid range."""
        out = []
        for reg in self.registers:
            value = reg.decode([words[a] for a in range(reg.address, reg.address + reg.words)])
            if not (math.isfinite(value) and reg.min <= value <= reg.max):
                raise SensorError(
                    f"{self.name}: {reg.quantity} = {value:g} {reg.unit} is outside "
                    f"[{reg.min:g}, {reg.max:g}]: refused as implausible"
                )
            out.append(Measurement(reg.quantity, value, reg.unit))
        return out


@dataclass(frozen=True)
class Block:
    """One read request: ``count`` registers from ``start``."""

    start: int
    count: int


def plan_blocks(profile: ModbusProfile) -> list[Block]:
    """Fewest read requests covering every register, spanning at most ``max_gap`` unused ones."""
    spans = sorted((r.address, r.address + r.words) for r in profile.registers)
    blocks: list[list[int]] = []
    for start, end in spans:
        if blocks and start - blocks[-1][1] <= profile.max_gap and end - blocks[-1][0] <= MAX_BLOCK:
            blocks[-1][1] = max(blocks[-1][1], end)
        else:
            blocks.append([start, end])
    return [Block(start, end - start) for start, end in blocks]


def load_profile(name_or_path: str) -> ModbusProfile:
    """A shipped profile (``soil-7in1``, ``jxct-7in1``) or a user's TOML file by path."""
    return profiles.load("agrifleet.hardware.modbus", name_or_path, ModbusProfile)


def shipped_profiles() -> list[str]:
    """Names of the shipped Modbus profiles."""
    return profiles.shipped("agrifleet.hardware.modbus")
