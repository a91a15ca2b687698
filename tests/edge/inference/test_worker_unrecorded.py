"""A camera whose detections cannot be written to disk goes on to the next photo: each photo is
classified once, never again in a loop, and its detection waits in the outbox's memory."""

from __future__ import annotations

import hashlib
import sqlite3
from collections import Counter

from agrifleet.edge.clock import Clock
from agrifleet.edge.inference.camera_types.folder import FolderCamera
from agrifleet.edge.inference.worker import CameraWorker, model_dir_of
from agrifleet.edge.outbox import Outbox
from agrifleet.inference.classifier import Classifier, Prediction
from agrifleet.inference.preprocess import ImageSource
from tests.agrifleet.inference.conftest import leaf_jpeg
from tests.edge.small_disk import card


class Counted(Classifier):
    """The real classifier, counting how often it sees each image."""

    def __init__(self, real: Classifier) -> None:
        self.__dict__.update(real.__dict__)
        self.seen: Counter[str] = Counter()

    def classify(self, source: ImageSource) -> Prediction:
        if isinstance(source, bytes):
            self.seen[hashlib.sha256(source).hexdigest()] += 1
        return super().classify(source)


def test_photos_are_classified_once_each_while_the_outbox_cannot_write(tmp_path, shipped_dir,
                                                                       runtime):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    photos = {f"leaf{i}.jpg": leaf_jpeg(seed=i) for i in range(3)}
    for name, data in photos.items():
        (inbox / name).write_bytes(data)
    camera = FolderCamera.model_validate({
        "type": "folder", "name": "leafcam", "path": inbox, "settle_s": 0, "poll_s": 0.05,
        "model": shipped_dir, "report_healthy": True})
    classifier = Counted(Classifier.load(model_dir_of(camera), 1, runtime))
    with card(tmp_path) as sd:
        outbox = Outbox.open(sd.folder / "outbox.sqlite", device_id="field-07",
                             boot_id="boot-a", clock=Clock("always"), retry_s=3600)
        sd.wear_out()
        worker = CameraWorker(camera, outbox.emit, classifier=classifier)
        for _ in range(5):
            worker.poll_once()
        assert outbox.degraded
        assert sorted(classifier.seen.values()) == [1, 1, 1], "each photo once, none in a loop"
        assert worker.detections == 3 and outbox.stats().memory_items == 4  # and the alert
        outbox.close()
    assert sorted(p.name for p in (inbox / "done").iterdir()) == sorted(photos)


def test_a_detection_the_emitter_refuses_leaves_the_photo_in_place_not_in_a_loop(
    tmp_path, shipped_dir, runtime
):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for i in range(2):
        (inbox / f"leaf{i}.jpg").write_bytes(leaf_jpeg(seed=i))
    camera = FolderCamera.model_validate({
        "type": "folder", "name": "leafcam", "path": inbox, "settle_s": 0, "poll_s": 0.05,
        "model": shipped_dir, "report_healthy": True})
    classifier = Counted(Classifier.load(model_dir_of(camera), 1, runtime))

    def broken_store(kind: str, body: dict, priority: object) -> None:
        raise sqlite3.OperationalError("disk I/O error")  # an emitter of another make

    worker = CameraWorker(camera, broken_store, classifier=classifier)
    for _ in range(5):
        assert worker.poll_once() == 0
    assert sorted(classifier.seen.values()) == [1, 1] and worker.unrecorded == 2
    assert sorted(p.name for p in inbox.iterdir() if p.is_file()) == ["leaf0.jpg", "leaf1.jpg"]
