"""An HTTP camera's photo is its snapshot URL's body, fetched with basic auth from the URL; errors
are SourceErrors that never show the password."""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from agrifleet.edge.inference.camera_types.http import HttpCamera, HttpSource
from agrifleet.edge.inference.sources import SourceError
from agrifleet.mqtt import mask_url


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
