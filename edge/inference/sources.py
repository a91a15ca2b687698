"""Where leaf photos come from: a watched folder, a capture command, or an HTTP snapshot URL."""

from __future__ import annotations

import base64
import logging
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from agrifleet.mqtt import mask_url
from edge.inference.config import CommandCamera, FolderCamera, HttpCamera

log = logging.getLogger(__name__)

#: A zero-byte file older than this (seconds past settle) is treated as a failed write.
EMPTY_FILE_GRACE_S = 60.0


class SourceError(RuntimeError):
    """The camera gave no image this time (command failed, URL unreachable, too large)."""


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


class CommandSource:
    """A program that prints one image on stdout, e.g. ``rpicam-still -o -``."""

    def __init__(self, camera: CommandCamera):
        self.camera = camera

    def capture(self) -> bytes:
        """Run the command once and return its stdout; SourceError if it fails."""
        argv = self.camera.argv
        try:
            done = subprocess.run(argv, capture_output=True, timeout=self.camera.timeout_s,
                                  check=False, stdin=subprocess.DEVNULL)
        except FileNotFoundError as exc:
            raise SourceError(f"camera command {argv[0]!r} not found") from exc
        except subprocess.TimeoutExpired as exc:
            raise SourceError(f"camera command {argv[0]!r} took over "
                              f"{self.camera.timeout_s:g}s") from exc
        if done.returncode != 0:
            err = done.stderr.decode(errors="replace").strip()[-300:]
            raise SourceError(f"camera command {argv[0]!r} exited {done.returncode}: {err}")
        if not done.stdout:
            raise SourceError(f"camera command {argv[0]!r} printed no image")
        if len(done.stdout) > self.camera.max_image_bytes:
            raise SourceError(f"camera command {argv[0]!r} printed over the size limit")
        return done.stdout


class HttpSource:
    """An IP camera's snapshot URL; ``user:password@`` in the URL becomes HTTP basic auth."""

    def __init__(self, camera: HttpCamera):
        self.camera = camera
        parts = urllib.parse.urlsplit(camera.url)
        host = parts.hostname or ""
        if parts.port:
            host = f"{host}:{parts.port}"
        self._url = urllib.parse.urlunsplit(parts._replace(netloc=host))
        self._headers = {"User-Agent": "agrifleet-edge"}
        if parts.username is not None:
            token = f"{urllib.parse.unquote(parts.username)}:" \
                    f"{urllib.parse.unquote(parts.password or '')}"
            self._headers["Authorization"] = "Basic " + base64.b64encode(token.encode()).decode()
        self.display_url = mask_url(camera.url)

    def capture(self) -> bytes:
        """GET the snapshot; SourceError on any network or HTTP failure."""
        request = urllib.request.Request(self._url, headers=self._headers)  # noqa: S310
        limit = self.camera.max_image_bytes
        try:
            with urllib.request.urlopen(request, timeout=self.camera.timeout_s) as resp:  # noqa: S310
                body = resp.read(limit + 1)
        except urllib.error.HTTPError as exc:
            raise SourceError(f"{self.display_url}: HTTP {exc.code} {exc.reason}") from exc
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise SourceError(f"{self.display_url}: {reason}") from exc
        if len(body) > limit:
            raise SourceError(f"{self.display_url}: snapshot over {limit} bytes")
        if not body:
            raise SourceError(f"{self.display_url}: empty snapshot")
        return body
