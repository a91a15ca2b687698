"""A camera worker classifies each new photo once, emits its detection, and skips bad files."""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from agrifleet.edge.inference.camera_types.command import CommandCamera
from agrifleet.edge.inference.camera_types.folder import FolderCamera
from agrifleet.edge.inference.worker import CameraWorker
from agrifleet.edge.items import Priority
from tests.agrifleet.inference.conftest import leaf_jpeg


class Emitted:
    """Collects what a worker emits, like the outbox would."""

    def __init__(self) -> None:
        self.items: list[tuple[str, dict[str, Any], Priority]] = []
        self.lock = threading.Lock()

    def __call__(self, kind: str, body: dict[str, Any], priority: Priority) -> None:
        with self.lock:
            self.items.append((kind, body, priority))

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [b for k, b, _ in self.items if k == kind]


def _camera(folder: Path, model: Path, **kw: Any) -> FolderCamera:
    return FolderCamera.model_validate({"type": "folder", "name": "bench-cam", "path": folder,
                                        "settle_s": 0, "poll_s": 0.05, "model": model, **kw})


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    folder = tmp_path / "inbox"
    folder.mkdir()
    return folder


def test_folder_worker_end_to_end(inbox: Path, shipped_dir: Path, runtime: str) -> None:
    (inbox / "leaf1.jpg").write_bytes(leaf_jpeg(seed=1))
    (inbox / "leaf2.jpg").write_bytes(leaf_jpeg((1024, 768), seed=2))
    (inbox / "corrupt.jpg").write_bytes(b"\x00garbage\x00" * 50)
    (inbox / "truncated.jpg").write_bytes(leaf_jpeg(seed=3)[:700])
    (inbox / "readme.txt").write_text("not for the camera")
    emit = Emitted()
    worker = CameraWorker(_camera(inbox, shipped_dir), emit, runtime=runtime)

    assert worker.poll_once() == 2
    detections = emit.of("detection")
    assert len(detections) == 2
    assert {d["camera"] for d in detections} == {"bench-cam"}
    assert all(p is Priority.DETECTION for k, _, p in emit.items if k == "detection")
    assert sorted(p.name for p in (inbox / "done").iterdir()) == ["leaf1.jpg", "leaf2.jpg"]
    assert sorted(p.name for p in (inbox / "failed").iterdir()) == ["corrupt.jpg",
                                                                    "truncated.jpg"]
    events = emit.of("event")
    assert {e["code"] for e in events} == {"image_unreadable"} and len(events) == 2
    assert [p.name for p in inbox.iterdir() if p.is_file()] == ["readme.txt"]

    assert worker.poll_once() == 0  # each photo is classified once
    assert len(emit.of("detection")) == 2


def test_detection_carries_the_model_and_image_hash(inbox: Path, shipped_dir: Path) -> None:
    import hashlib

    from agrifleet.manifest import read_manifest

    photo = leaf_jpeg(seed=5)
    (inbox / "x.jpg").write_bytes(photo)
    emit = Emitted()
    CameraWorker(_camera(inbox, shipped_dir, after="delete"), emit).poll_once()
    (body,) = emit.of("detection")
    manifest = read_manifest(shipped_dir)
    assert body["model"] == {"name": manifest.name, "version": manifest.version,
                             "sha256": manifest.sha256}
    assert body["image_sha256"] == hashlib.sha256(photo).hexdigest()
    assert not (inbox / "x.jpg").exists() and not (inbox / "done").exists()


def test_partial_file_is_read_only_once_settled(inbox: Path, shipped_dir: Path) -> None:
    import os
    import time

    (inbox / "new.jpg").write_bytes(leaf_jpeg()[:500])  # the camera is still writing
    emit = Emitted()
    worker = CameraWorker(_camera(inbox, shipped_dir, settle_s=30), emit)
    assert worker.poll_once() == 0 and emit.items == []
    (inbox / "new.jpg").write_bytes(leaf_jpeg())  # finished writing
    old = time.time() - 60
    os.utime(inbox / "new.jpg", (old, old))
    assert worker.poll_once() == 1


def test_run_polls_until_stopped(inbox: Path, shipped_dir: Path) -> None:
    emit = Emitted()
    worker = CameraWorker(_camera(inbox, shipped_dir), emit)
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,))
    thread.start()
    try:
        (inbox / "late.jpg").write_bytes(leaf_jpeg(seed=9))
        for _ in range(200):
            if emit.of("detection"):
                break
            stop.wait(0.05)
    finally:
        stop.set()
        thread.join(5)
    assert not thread.is_alive()
    assert len(emit.of("detection")) == 1


def test_unusable_model_stops_the_worker_with_an_alert(inbox: Path, model_copy: Path) -> None:
    (model_copy / "model.tflite").write_bytes(b"not a model")
    emit = Emitted()
    (inbox / "leaf.jpg").write_bytes(leaf_jpeg())
    stop = threading.Event()
    CameraWorker(_camera(inbox, model_copy), emit).run(stop)  # returns by itself
    assert [(k, b["code"], p) for k, b, p in emit.items] == [
        ("event", "model_unusable", Priority.ALERT)]
    assert (inbox / "leaf.jpg").exists()  # the photo waits for a working model


def test_command_camera_worker(tmp_path: Path, shipped_dir: Path) -> None:
    photo = tmp_path / "shot.jpg"
    photo.write_bytes(leaf_jpeg(seed=4))
    code = f"import sys; sys.stdout.buffer.write(open({str(photo)!r}, 'rb').read())"
    cam = CommandCamera(type="command", name="pi-cam", argv=[sys.executable, "-c", code],
                        model=shipped_dir, report_healthy=True)
    emit = Emitted()
    worker = CameraWorker(cam, emit)
    assert worker.poll_once() == 1
    assert emit.of("detection")[0]["camera"] == "pi-cam"


def test_camera_that_fails_keeps_the_worker_running(shipped_dir: Path) -> None:
    cam = CommandCamera(type="command", name="pi-cam", interval_s=0.05, model=shipped_dir,
                        argv=[sys.executable, "-c", "import sys; sys.exit(1)"])
    emit = Emitted()
    stop = threading.Event()
    thread = threading.Thread(target=CameraWorker(cam, emit).run, args=(stop,))
    thread.start()
    stop.wait(0.3)
    assert thread.is_alive()
    stop.set()
    thread.join(5)
    assert emit.items == []
