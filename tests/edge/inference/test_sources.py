"""Image sources hand over complete photos: a watched folder, a capture command, HTTP snapshots."""

from __future__ import annotations

import base64
import os
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from agrifleet.mqtt import mask_url
from edge.inference.camera_types.command import CommandCamera, CommandSource
from edge.inference.camera_types.folder import FolderCamera, FolderSource
from edge.inference.camera_types.http import HttpCamera, HttpSource
from edge.inference.sources import SourceError


def _folder(tmp_path: Path, **kw: object) -> FolderCamera:
    return FolderCamera.model_validate({"type": "folder", "name": "c", "path": tmp_path,
                                        "settle_s": 0, **kw})


def _age(path: Path, seconds: float) -> None:
    t = time.time() - seconds
    os.utime(path, (t, t))


def test_folder_lists_settled_images_oldest_first(tmp_path: Path) -> None:
    for name, age in (("b.jpg", 30), ("a.JPG", 60), ("c.png", 10), ("notes.txt", 90),
                      (".hidden.jpg", 90), ("fresh.jpg", 0)):
        (tmp_path / name).write_bytes(b"x")
        _age(tmp_path / name, age)
    source = FolderSource(_folder(tmp_path, settle_s=5))
    assert [p.name for p in source.ready()] == ["a.JPG", "b.jpg", "c.png"]


def test_empty_file_waits_for_the_camera_to_finish(tmp_path: Path) -> None:
    (tmp_path / "writing.jpg").write_bytes(b"")
    source = FolderSource(_folder(tmp_path))
    assert source.ready() == []
    _age(tmp_path / "writing.jpg", 3600)  # never finished: handed over, to be refused
    assert [p.name for p in source.ready()] == ["writing.jpg"]


def test_done_moves_without_overwriting_or_deletes(tmp_path: Path) -> None:
    source = FolderSource(_folder(tmp_path))
    for _ in range(2):
        (tmp_path / "leaf.jpg").write_bytes(b"x")
        source.done(tmp_path / "leaf.jpg")
    assert sorted(p.name for p in (tmp_path / "done").iterdir()) == ["leaf.1.jpg", "leaf.jpg"]
    deleting = FolderSource(_folder(tmp_path, after="delete"))
    (tmp_path / "leaf.jpg").write_bytes(b"x")
    deleting.done(tmp_path / "leaf.jpg")
    assert not (tmp_path / "leaf.jpg").exists()


def test_missing_folder_is_a_source_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="does not exist"):
        FolderSource(_folder(tmp_path / "nope")).ready()


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


class _Snapshot(BaseHTTPRequestHandler):
    body = b"\xff\xd8snapshot"
    seen_auth: ClassVar[list[str | None]] = []

    def do_GET(self) -> None:
        type(self).seen_auth.append(self.headers.get("Authorization"))
        if self.path != "/snap.jpg":
            self.send_error(404, "Not Found")
            return
        self.send_response(200)
        self.send_header("Content-Type", "image/jpeg")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def camera_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Snapshot)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_http_snapshot_with_basic_auth(camera_server: str) -> None:
    _Snapshot.seen_auth.clear()
    cam = HttpCamera(type="http", name="c", url=f"http://admin:s3cret@{camera_server}/snap.jpg")
    source = HttpSource(cam)
    assert source.capture() == _Snapshot.body
    assert _Snapshot.seen_auth == ["Basic " + base64.b64encode(b"admin:s3cret").decode()]
    assert "s3cret" not in source.display_url


def test_http_errors_are_source_errors_without_the_password(camera_server: str) -> None:
    cam = HttpCamera(type="http", name="c", url=f"http://u:pw123@{camera_server}/missing.jpg")
    with pytest.raises(SourceError, match="HTTP 404") as info:
        HttpSource(cam).capture()
    assert "pw123" not in str(info.value)
    dead = HttpCamera(type="http", name="c", url="http://127.0.0.1:9/snap.jpg", timeout_s=1)
    with pytest.raises(SourceError):
        HttpSource(dead).capture()


def test_mask_url_hides_only_the_password() -> None:
    assert mask_url("http://bob:pw@cam:8080/a?x=1") == "http://bob:***@cam:8080/a?x=1"
    assert mask_url("http://cam/a") == "http://cam/a"
