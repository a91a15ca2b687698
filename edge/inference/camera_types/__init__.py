"""Camera types, one module each, registered by their ``type`` (docs/edge.md, "Adding a sensor
or camera type"): a module here defines a :class:`~edge.inference.camera_types.base.CameraType`
subclass with its keys, its source and its poll interval."""

from __future__ import annotations

from agrifleet.edge.inference.camera_types.base import CameraType
from agrifleet.edge.registry import discover

#: Each ``type`` name of a ``[[cameras]]`` section to its config model.
CAMERA_TYPES: dict[str, type[CameraType]] = discover(__name__, CameraType)
