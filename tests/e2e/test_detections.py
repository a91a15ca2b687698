"""A leaf photo dropped in a node's watched folder becomes a detection stored in the fleet.

The photo goes through the real agent (folder camera, shipped int8 model on LiteRT or
tflite-runtime, durable outbox), Mosquitto and the fleet; the farm manager reads it, with its
thumbnail, through the REST API.
"""

from __future__ import annotations

import json
import shutil
import urllib.request
from collections.abc import Callable
from functools import partial
from hashlib import sha256
from pathlib import Path

import pytest

from agrifleet.demo.local_fleet import LocalFleet
from agrifleet.inference.classifier import Classifier
from agrifleet.models.shipped import default_model_dir
from tests.e2e.conftest import api, assert_nothing_lost, wait_until

DISEASED = "Tomato___Late_blight"


def _drop(fleet: LocalFleet, device: str, photo: Path) -> None:
    """Write the photo the way a camera tool does: to a hidden name, then rename."""
    camera = fleet.options.workdir / device / "camera"
    partial_name = camera / f".{photo.name}.part"
    shutil.copyfile(photo, partial_name)
    partial_name.rename(camera / photo.name)


def _detections(fleet: LocalFleet, device: str) -> list[dict]:
    return list(api(fleet, f"/detections?device={device}"))


def test_dropped_photo_is_classified_and_stored_with_its_thumbnail(
    make_fleet: Callable[..., LocalFleet], shared_data: Path, tmp_path: Path
) -> None:
    photo = sorted((shared_data / "plantvillage" / DISEASED).glob("*.jpg"))[0]
    fleet = make_fleet(agents=1, sensor_interval_s=5)
    _drop(fleet, "field-01", photo)

    [detection] = wait_until(partial(_detections, fleet, "field-01"), 90, "a detection")
    expected = Classifier.load(default_model_dir(), threads=1).classify(photo)
    assert detection["camera"] == "leafcam"
    assert (detection["label"], detection["uncertain"]) == (expected.label, expected.uncertain)
    assert detection["confidence"] == pytest.approx(expected.confidence, abs=1e-4)  # sent rounded
    assert detection["model_name"] == "leaf-disease"
    assert detection["model_sha256"] == sha256(
        (default_model_dir() / "model.tflite").read_bytes()
    ).hexdigest()
    assert detection["image_sha256"] == sha256(photo.read_bytes()).hexdigest()
    assert detection["has_image"] is not expected.healthy  # thumbnails for disease or doubt
    if expected.healthy:
        return
    request = urllib.request.Request(  # noqa: S310 - the test's own fleet
        f"{fleet.api_url}/api/v1/detections/{detection['id']}/image",
        headers={"Authorization": f"Bearer {fleet.token}"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        assert response.headers["Content-Type"] == "image/jpeg"
        thumbnail = response.read()
    assert thumbnail[:3] == b"\xff\xd8\xff"  # a JPEG
    # The photo left the watched folder once classified (after = "delete").
    camera = fleet.options.workdir / "field-01" / "camera"
    wait_until(lambda: not (camera / photo.name).exists(), 10, "the photo to be removed")
    assert_nothing_lost(fleet, fleet.database_url)


def test_a_file_that_is_not_an_image_is_set_aside_and_the_next_photo_still_counts(
    make_fleet: Callable[..., LocalFleet], tmp_path: Path
) -> None:
    fleet = make_fleet(agents=1, sensor_interval_s=5)
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 truncated jpeg")
    good = tmp_path / "leaf.png"
    _leaf_like_png(good)
    _drop(fleet, "field-01", bad)
    _drop(fleet, "field-01", good)
    [detection] = wait_until(partial(_detections, fleet, "field-01"), 90, "a detection")
    assert 0.0 <= detection["confidence"] <= 1.0
    # The node names the crop and the disease on their own, and the fleet stores both.
    for part in ("crop", "disease"):
        assert detection[part] and 0.0 <= detection[f"{part}_confidence"] <= 1.0
        assert detection[f"{part}_uncertain"] == (detection[part] == "uncertain")
    failed = fleet.options.workdir / "field-01" / "camera" / "failed"
    assert (failed / "broken.jpg").exists()
    events = api(fleet, "/devices/field-01/events")
    assert any("broken.jpg" in json.dumps(e) for e in events)


def _leaf_like_png(path: Path) -> None:
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (320, 240), (200, 200, 200))
    ImageDraw.Draw(image).ellipse((60, 30, 260, 210), fill=(40, 140, 50))
    image.save(path)


@pytest.fixture(autouse=True)
def _needs_shipped_model() -> None:
    if not (default_model_dir() / "manifest.json").exists():
        pytest.skip("no shipped model")
