"""Turn a sensor's config section into a driver from hardware/ (imported when first opened)."""

from __future__ import annotations

from collections.abc import Callable

from agrifleet.edge.config import SensorConfig
from agrifleet.edge.poller import PolledSensor
from agrifleet.hardware.sensor import Sensor


def opener(config: SensorConfig) -> Callable[[], Sensor]:
    """A function that opens the configured driver; it raises SensorError or OSError.

    Each sensor type opens its own driver (``open()`` in its module of edge/sensor_types/).
    """
    return config.open


def polled_sensors(configs: list[SensorConfig]) -> list[PolledSensor]:
    """What the poller serves, one entry per configured sensor."""
    return [PolledSensor(str(c.name), c.interval_s, opener(c)) for c in configs]
