"""What an SDI-12 probe's values mean: names, units, valid ranges, and whether it sends CRCs."""

from __future__ import annotations

import itertools
import math

from pydantic import BaseModel, ConfigDict, Field, model_validator

from agrifleet.hardware import profiles
from agrifleet.hardware.sensor import Measurement, SensorError


class Value(BaseModel):
    """One value of the measurement reply, in the order the probe sends them."""

    # A bound of nan or inf (TOML has both) is no bound: leave it out instead.
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    quantity: profiles.QuantityName
    unit: str = ""
    min: float | None = None
    max: float | None = None
    optional: bool = Field(
        False, title="the probe may leave this value out (only trailing values may be optional)"
    )

    @model_validator(mode="after")
    def _range(self) -> Value:
        if self.min is not None and self.max is not None and self.min >= self.max:
            raise ValueError(f"min ({self.min}) must be below max ({self.max})")
        return self


class Sdi12Profile(BaseModel):
    """A probe model: the measurement command and the meaning of its values."""

    model_config = ConfigDict(extra="forbid")

    name: str
    description: str = ""
    source: str = ""
    measurement: str = Field("M", pattern=r"^M[1-9]?$", title="M, or M1..M9 for others")
    crc: bool = Field(False, title="ask for CRC-checked data (aMC!); SDI-12 1.3 and later")
    values: list[Value] = Field(
        default_factory=list, title="empty: any number of values named value_0, value_1, …"
    )

    @model_validator(mode="after")
    def _unique(self) -> Sdi12Profile:
        names = [v.quantity for v in self.values]
        if len(set(names)) != len(names):
            raise ValueError(f"a quantity is listed twice: {names}")
        flags = [v.optional for v in self.values]
        if any(a and not b for a, b in itertools.pairwise(flags)):
            raise ValueError("only trailing values may be optional")
        return self

    @property
    def required_values(self) -> int:
        """How many values the probe must send (the optional trailing ones may be left out)."""
        return sum(1 for v in self.values if not v.optional)

    @property
    def command(self) -> str:
        """The measurement command body, e.g. "M" or "MC"."""
        return self.measurement[0] + ("C" if self.crc else "") + self.measurement[1:]

    def to_measurements(self, numbers: list[float]) -> list[Measurement]:
        """Measurements from the values read; refuses a count or value the profile rules out."""
        for i, number in enumerate(numbers):
            if not math.isfinite(number):
                raise SensorError(f"{self.name}: value {i} is {number}: refused as not a number")
        if not self.values:
            return [Measurement(f"value_{i}", v, "") for i, v in enumerate(numbers)]
        if not self.required_values <= len(numbers) <= len(self.values):
            expected = (
                str(len(self.values)) if self.required_values == len(self.values)
                else f"{self.required_values} to {len(self.values)}"
            )
            raise SensorError(
                f"{self.name}: expects {expected} values, the probe sent {len(numbers)}"
            )
        out = []
        for spec, number in zip(self.values, numbers, strict=False):
            low = spec.min if spec.min is not None else float("-inf")
            high = spec.max if spec.max is not None else float("inf")
            if not low <= number <= high:
                raise SensorError(
                    f"{self.name}: {spec.quantity} = {number:g} {spec.unit} is outside "
                    f"[{low:g}, {high:g}]: refused as implausible"
                )
            out.append(Measurement(spec.quantity, number, spec.unit))
        return out


def load_profile(name_or_path: str) -> Sdi12Profile:
    """A shipped profile (``generic``, ``acclima-tdr``) or a user's TOML file by path."""
    return profiles.load("agrifleet.hardware.sdi12", name_or_path, Sdi12Profile)


def shipped_profiles() -> list[str]:
    """Names of the shipped SDI-12 profiles."""
    return profiles.shipped("agrifleet.hardware.sdi12")
