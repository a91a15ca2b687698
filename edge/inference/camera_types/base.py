"""What every camera type's config has, and what it must add: its ``type`` and its source."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from agrifleet.contract import MAX_THUMBNAIL_B64
from agrifleet.edge.inference.sources import Source

#: Largest JPEG thumbnail (bytes) that still fits the contract's base64 cap.
MAX_THUMBNAIL_BYTES = MAX_THUMBNAIL_B64 * 3 // 4


class CameraType(BaseModel):
    """A ``[[cameras]]`` section: the keys every camera has; a subclass adds its own."""

    model_config = ConfigDict(extra="forbid")

    #: A subclass narrows it to ``Literal["its-name"]``: the name it is registered by.
    type: str
    name: str = Field(
        min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$",
        title="Camera name, sent with each detection",
    )
    model: Path | None = Field(
        default=None, title="Model folder (with manifest.json); default: the shipped model"
    )
    threads: int = Field(default=2, ge=1, le=16, title="Interpreter threads")
    thumbnail_max_bytes: int = Field(
        default=12 * 1024, ge=1024, le=MAX_THUMBNAIL_BYTES,
        title="Cap on the JPEG thumbnail sent with diseased or uncertain detections",
    )
    report_healthy: bool = Field(
        default=True, title="Also emit detections for healthy leaves (without a thumbnail)"
    )
    max_image_bytes: int = Field(
        default=20 * 1024 * 1024, ge=1024, title="Refuse images larger than this"
    )

    def open_source(self) -> Source:
        """Where this camera's photos come from: a folder of files, or one capture per poll."""
        raise NotImplementedError(f"camera type {self.type!r} has no open_source()")

    def poll_every_s(self) -> float:
        """Seconds the worker waits between polls of the source."""
        raise NotImplementedError(f"camera type {self.type!r} has no poll_every_s()")
