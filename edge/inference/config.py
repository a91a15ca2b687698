"""Camera settings for the agent's config: where leaf photos come from and which model reads them.

``cameras: list[CameraConfig]`` in the agent config; each entry picks its type with ``type``,
one module of ``edge/inference/camera_types/`` each: ``folder`` (a directory a camera tool
writes into), ``command`` (a program that prints one JPEG on stdout) or ``http`` (an IP
camera's snapshot URL).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agrifleet.edge.inference.camera_types import CAMERA_TYPES
from agrifleet.edge.inference.camera_types.base import CameraType
from agrifleet.edge.registry import tagged_union

if TYPE_CHECKING:
    CameraConfig = CameraType
else:  # pydantic picks the model by `type`, from every module of camera_types/
    CameraConfig = tagged_union(CAMERA_TYPES)
