"""A command camera's photo is its program's stdout; a failing, silent, slow or missing program is
a SourceError that says which."""

from __future__ import annotations

import sys

import pytest

from agrifleet.edge.inference.camera_types.command import CommandCamera, CommandSource
from agrifleet.edge.inference.sources import SourceError


def _command(code: str, **kw: object) -> CommandCamera:
    return CommandCamera.model_validate(
        {"type": "command", "name": "c", "argv": [sys.executable, "-c", code], **kw})


def test_command_stdout_is_the_image() -> None:
    code = "import sys; sys.stdout.buffer.write(b'\\xff\\xd8jpeg')"
    assert CommandSource(_command(code)).capture() == b"\xff\xd8jpeg"


@pytest.mark.parametrize(
    ("code", "message", "timeout"),
    [
        ("import sys; sys.stderr.write('no camera detected'); sys.exit(3)",
         "exited 3: no camera detected", 60),
        ("pass", "printed no image", 60),
        ("import time; time.sleep(60)", "took over 1s", 1),
    ],
)
def test_failing_command_is_a_source_error(code: str, message: str, timeout: float) -> None:
    with pytest.raises(SourceError, match=message):
        CommandSource(_command(code, timeout_s=timeout)).capture()


def test_missing_program_is_a_source_error() -> None:
    cam = CommandCamera(type="command", name="c", argv=["no-such-camera-tool-xyz"])
    with pytest.raises(SourceError, match="not found"):
        CommandSource(cam).capture()
