"""A program that prints one JPEG on stdout, e.g. ``rpicam-still -o -`` or ``fswebcam -``."""

from __future__ import annotations

import subprocess
from typing import Literal

from pydantic import Field

from agrifleet.edge.inference.camera_types.base import CameraType
from agrifleet.edge.inference.sources import SourceError


class CommandCamera(CameraType):
    """A program that prints one JPEG on stdout, e.g. ``rpicam-still -o -`` or ``fswebcam -``."""

    type: Literal["command"]
    argv: list[str] = Field(min_length=1, title="Program and arguments (no shell)")
    interval_s: float = Field(default=300.0, gt=0, title="Seconds between photos")
    timeout_s: float = Field(default=30.0, gt=0, le=600, title="Kill the program after this")

    def open_source(self) -> CommandSource:
        return CommandSource(self)

    def poll_every_s(self) -> float:
        return self.interval_s


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


