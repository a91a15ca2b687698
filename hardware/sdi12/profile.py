"""What an SDI-12 probe's values mean: names, units, valid ranges, and whether it sends CRCs."""

from __future__ import annotations

import math

from pydantic import BaseModel, ConfigDict, Field, model_validator

from hardware import profiles
from hardware.sensor import Measurement, SensorError


class Value(BaseModel):
    """One value of the measurement reply, in the order the probe sends them."""

    # A bound of nan or inf (TOML has both) is no bound: leave it out instead.
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    quantity: profiles.QuantityName
    unit: str = ""
    min: float | None = None
    max: float | None = None

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
        return self

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
        if len(numbers) != len(self.values):
            raise SensorError(
                f"{self.name}: expects {len(self.values)} values, the probe sent {len(numbers)}"
            )
        out = []
        for spec, number in zip(self.values, numbers, strict=True):
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
    return profiles.load("hardware.sdi12", name_or_path, Sdi12Profile)


def shipped_profiles() -> list[str]:
    """Names of the shipped SDI-12 profiles."""
    return profiles.shipped("hardware.sdi12")
