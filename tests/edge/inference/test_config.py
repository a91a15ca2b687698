"""Camera settings parse into one of three source types and refuse unknown or bad fields clearly."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import TypeAdapter, ValidationError

from agrifleet.edge.inference.camera_types.command import CommandCamera
from agrifleet.edge.inference.camera_types.folder import FolderCamera
from agrifleet.edge.inference.camera_types.http import HttpCamera
from agrifleet.edge.inference.config import CameraConfig

CAMERA: TypeAdapter[CameraConfig] = TypeAdapter(CameraConfig)


def test_folder_camera_defaults_its_done_and_failed_folders(tmp_path: Path) -> None:
    cam = CAMERA.validate_python({"type": "folder", "name": "greenhouse-1", "path": tmp_path})
    assert isinstance(cam, FolderCamera)
    assert cam.done_dir == tmp_path / "done" and cam.failed_dir == tmp_path / "failed"
    assert cam.after == "move" and cam.model is None


def test_each_type_picks_its_model() -> None:
    cmd = CAMERA.validate_python(
        {"type": "command", "name": "pi", "argv": ["rpicam-still", "-o", "-"], "interval_s": 60}
    )
    web = CAMERA.validate_python({"type": "http", "name": "ipcam", "url": "http://cam/snap.jpg"})
    assert isinstance(cmd, CommandCamera) and cmd.argv[0] == "rpicam-still"
    assert isinstance(web, HttpCamera)


@pytest.mark.parametrize(
    ("data", "where"),
    [
        ({"type": "folder", "name": "a", "path": "/x", "colour": "red"}, "colour"),
        ({"type": "webcam", "name": "a"}, "type"),
        ({"type": "folder", "name": "a", "path": "/x", "after": "archive"}, "after"),
        ({"type": "command", "name": "a", "argv": []}, "argv"),
        ({"type": "http", "name": "a", "url": "ftp://cam/x.jpg"}, "url"),
        ({"type": "folder", "name": "bad name!", "path": "/x"}, "name"),
        ({"type": "folder", "name": "a", "path": "/x", "thumbnail_max_bytes": 10**6},
         "thumbnail_max_bytes"),
    ],
)
def test_bad_settings_name_the_field(data: dict[str, object], where: str) -> None:
    with pytest.raises(ValidationError) as info:
        CAMERA.validate_python(data)
    assert where in str(info.value)
