"""Sensor types, one module each, registered by their ``type`` (docs/edge.md, "Adding a sensor
type"): a module here defines a :class:`~edge.sensor_types.base.SensorType` subclass with its
keys and its ``open()``, and the agent's config and poller take it from :data:`SENSOR_TYPES`."""

from __future__ import annotations

from agrifleet.edge.registry import discover
from agrifleet.edge.sensor_types.base import SensorType

#: Each ``type`` name of a ``[[sensors]]`` section to its config model.
SENSOR_TYPES: dict[str, type[SensorType]] = discover(__name__, SensorType)
