"""What a camera type's source hands the worker: a folder of photo files, or one capture a poll.

Each camera type (``edge/inference/camera_types/``) brings its own source; the worker only
knows these two shapes and :class:`SourceError`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, runtime_checkable


class SourceError(RuntimeError):
    """The camera gave no image this time (command failed, URL unreachable, too large)."""


@runtime_checkable
class PhotoFolder(Protocol):
    """Photo files that appear somewhere; each is handed out once, then settled."""

    def ready(self) -> list[Path]:
        """Complete files waiting to be classified, oldest first."""

    def read(self, path: Path) -> bytes:
        """The file's bytes; SourceError if it is too large or vanished."""

    def done(self, path: Path) -> None:
        """The photo was classified and its detection recorded."""

    def keep(self, path: Path) -> None:
        """Leave the photo where it is; do not hand it out again until the agent restarts."""

    def failed(self, path: Path) -> Path | None:
        """The photo cannot be read: put it aside; where it went, if anywhere."""


class Capture(Protocol):
    """A camera that takes one photo when asked."""

    def capture(self) -> bytes:
        """One photo's bytes; SourceError if the camera gave none."""


Source = PhotoFolder | Capture
