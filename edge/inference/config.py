"""Camera settings for the agent's config: where leaf photos come from and which model reads them.

``cameras: list[CameraConfig]`` in the agent config; each entry picks its source with ``type``:
``folder`` (a directory a camera tool writes into), ``command`` (a program that prints one JPEG
on stdout) or ``http`` (an IP camera's snapshot URL).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from agrifleet.contract import MAX_THUMBNAIL_B64

#: Largest JPEG thumbnail (bytes) that still fits the contract's base64 cap.
MAX_THUMBNAIL_BYTES = MAX_THUMBNAIL_B64 * 3 // 4


class _Camera(BaseModel):
    """Settings every camera has."""

    model_config = ConfigDict(extra="forbid")

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


class FolderCamera(_Camera):
    """A directory a camera tool writes photos into; each new file is classified once."""

    type: Literal["folder"]
    path: Path = Field(title="Directory to watch")
    after: Literal["move", "delete"] = Field(
        default="move", title="What to do with a photo once classified"
    )
    done_dir: Path | None = Field(
        default=None, title="Where classified photos go when after=move (default: path/done)"
    )
    failed_dir: Path | None = Field(
        default=None, title="Where unreadable files are moved aside (default: path/failed)"
    )
    poll_s: float = Field(default=2.0, gt=0, le=3600, title="Seconds between folder scans")
    settle_s: float = Field(
        default=1.0, ge=0, le=600,
        title="A file must be unchanged this long before it is read (camera still writing)",
    )
    suffixes: list[str] = Field(
        default_factory=lambda: [".jpg", ".jpeg", ".png"],
        min_length=1, title="File name endings to pick up (any letter case)",
    )

    @model_validator(mode="after")
    def _defaults(self) -> FolderCamera:
        if self.done_dir is None:
            self.done_dir = self.path / "done"
        if self.failed_dir is None:
            self.failed_dir = self.path / "failed"
        return self


class CommandCamera(_Camera):
    """A program that prints one JPEG on stdout, e.g. ``rpicam-still -o -`` or ``fswebcam -``."""

    type: Literal["command"]
    argv: list[str] = Field(min_length=1, title="Program and arguments (no shell)")
    interval_s: float = Field(default=300.0, gt=0, title="Seconds between photos")
    timeout_s: float = Field(default=30.0, gt=0, le=600, title="Kill the program after this")


class HttpCamera(_Camera):
    """An IP camera's snapshot URL, fetched with GET."""

    type: Literal["http"]
    url: str = Field(pattern=r"^https?://", title="Snapshot URL (http or https)")
    interval_s: float = Field(default=300.0, gt=0, title="Seconds between photos")
    timeout_s: float = Field(default=15.0, gt=0, le=600, title="Give up on a request after this")


CameraConfig = Annotated[FolderCamera | CommandCamera | HttpCamera, Field(discriminator="type")]
