"""A directory a camera tool writes photos into; each new file is classified once."""

from __future__ import annotations

import logging
import os
import shutil
import time
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from agrifleet.edge.inference.camera_types.base import CameraType
from agrifleet.edge.inference.sources import SourceError

log = logging.getLogger(__name__)

#: A zero-byte file older than this (seconds past settle) is treated as a failed write.
EMPTY_FILE_GRACE_S = 60.0


class FolderCamera(CameraType):
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

    def open_source(self) -> FolderSource:
        return FolderSource(self)

    def poll_every_s(self) -> float:
        return self.poll_s


class FolderSource:
    """Photos a camera tool writes into a folder; each file is handed out once."""

    def __init__(self, camera: FolderCamera):
        self.camera = camera
        self._handled: set[str] = set()
        self._suffixes = {s.lower() for s in camera.suffixes}

    def ready(self) -> list[Path]:
        """Complete files waiting to be classified, oldest first."""
        folder = self.camera.path
        if not folder.is_dir():
            raise SourceError(f"camera folder {folder} does not exist")
        now = time.time()
        found: list[tuple[float, str, Path]] = []
        for entry in os.scandir(folder):
            name = entry.name
            if name.startswith(".") or not entry.is_file(follow_symlinks=False):
                continue
            if Path(name).suffix.lower() not in self._suffixes or name in self._handled:
                continue
            st = entry.stat(follow_symlinks=False)
            age = now - st.st_mtime
            if age < self.camera.settle_s:
                continue  # the camera may still be writing it
            if st.st_size == 0 and age < self.camera.settle_s + EMPTY_FILE_GRACE_S:
                continue
            found.append((st.st_mtime, name, Path(entry.path)))
        return [p for _, _, p in sorted(found)]

    def read(self, path: Path) -> bytes:
        """The file's bytes; SourceError if it is too large or vanished."""
        try:
            size = path.stat().st_size
            if size > self.camera.max_image_bytes:
                raise SourceError(f"{path.name}: {size} bytes is over the camera's limit")
            return path.read_bytes()
        except OSError as exc:
            raise SourceError(f"{path.name}: cannot read: {exc}") from exc

    def done(self, path: Path) -> None:
        """Move or delete a classified photo, as configured."""
        self._handled.add(path.name)  # even if it cannot be moved, never classify it twice
        try:
            if self.camera.after == "delete":
                path.unlink(missing_ok=True)
            else:
                assert self.camera.done_dir is not None
                _move(path, self.camera.done_dir)
        except OSError as exc:
            log.warning("cannot %s %s (%s); it will be skipped", self.camera.after, path, exc)
            return
        self._handled.discard(path.name)

    def keep(self, path: Path) -> None:
        """Leave a photo where it is and do not hand it out again until the agent restarts."""
        self._handled.add(path.name)

    def failed(self, path: Path) -> Path | None:
        """Move an unreadable file aside so it is not tried again; return where it went."""
        self._handled.add(path.name)
        assert self.camera.failed_dir is not None
        try:
            target = _move(path, self.camera.failed_dir)
        except OSError as exc:
            log.warning("cannot move %s aside (%s); it will be skipped", path, exc)
            return None
        self._handled.discard(path.name)
        return target


def _move(path: Path, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / path.name
    n = 1
    while target.exists():
        target = folder / f"{path.stem}.{n}{path.suffix}"
        n += 1
    shutil.move(str(path), target)
    return target


