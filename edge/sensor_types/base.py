"""What every sensor type's config has, and what it must add: its ``type`` and ``open()``."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from agrifleet.hardware.sensor import Sensor

SensorName = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.@:-]+$")]


class SensorType(BaseModel):
    """A ``[[sensors]]`` section: the keys every sensor has; a subclass adds its own."""

    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    #: A subclass narrows it to ``Literal["its-name", ...]``: the names it is registered by.
    type: str
    name: SensorName | None = Field(default=None, title="Sensor name in readings (default: type)")
    port: str = Field(min_length=1, title="Serial device, e.g. /dev/serial/by-id/...")
    interval_s: float = Field(default=60.0, gt=0, title="Seconds between readings")

    def open(self) -> Sensor:
        """Open the driver (imported here, on first use); raises SensorError or OSError."""
        raise NotImplementedError(f"sensor type {self.type!r} has no open()")
