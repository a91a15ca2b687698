"""Turn a sensor's config section into a driver from hardware/ (imported when first opened)."""

from __future__ import annotations

from collections.abc import Callable

from edge.config import (
    ModbusSoilSensor,
    NmeaGpsSensor,
    RainGaugeSensor,
    Sdi12Sensor,
    SensorConfig,
)
from edge.poller import PolledSensor
from hardware.sensor import Sensor


def opener(config: SensorConfig) -> Callable[[], Sensor]:
    """A function that opens the configured driver; it raises SensorError or OSError."""

    def open_sensor() -> Sensor:
        if isinstance(config, ModbusSoilSensor):
            from hardware.modbus import ModbusSoilProbe

            return ModbusSoilProbe(
                config.port, baudrate=config.baudrate, address=config.address,
                profile=config.profile,
            )
        if isinstance(config, Sdi12Sensor):
            from hardware.sdi12 import Sdi12Probe

            return Sdi12Probe(config.port, address=config.address, profile=config.profile)
        if isinstance(config, RainGaugeSensor):
            from hardware.rain import RainGauge

            return RainGauge(
                config.port, baudrate=config.baudrate, address=config.address,
                profile=config.profile,
            )
        if isinstance(config, NmeaGpsSensor):
            from hardware.nmea import NmeaGps

            return NmeaGps(config.port, baudrate=config.baudrate)
        raise TypeError(f"no driver for sensor type {config.type!r}")

    return open_sensor


def polled_sensors(configs: list[SensorConfig]) -> list[PolledSensor]:
    """What the poller serves, one entry per configured sensor."""
    return [PolledSensor(str(c.name), c.interval_s, opener(c)) for c in configs]
