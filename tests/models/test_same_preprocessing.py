"""Training, evaluation and the device feed the model exactly the same tensor for a photo."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from agrifleet.inference.classifier import Classifier
from agrifleet.inference.preprocess import preprocess
from agrifleet.models.evaluate import TFLiteModel
from agrifleet.models.shipped import default_model_dir
from agrifleet.models.split import split_folder
from agrifleet.models.train import load_pixels
from tests.agrifleet.inference.conftest import leaf_jpeg


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    folder = tmp_path / "data" / "Tomato___Late_blight"
    folder.mkdir(parents=True)
    for i, size in enumerate([(192, 192), (640, 480), (300, 500)]):
        (folder / f"{i:016x}.jpg").write_bytes(leaf_jpeg(size, seed=i))
    return tmp_path / "data"


def test_training_loader_uses_the_device_preprocessing(photos: Path) -> None:
    listed = split_folder(photos)
    pixels = load_pixels(listed, 96)
    for photo, trained_on in zip(listed, pixels, strict=True):
        assert np.array_equal(trained_on, preprocess(photo.path.read_bytes(), 96))


def test_evaluation_and_device_get_the_same_probabilities(photos: Path, runtime: str) -> None:
    model_dir = default_model_dir()
    if not (model_dir / "manifest.json").is_file():
        pytest.skip("no shipped model")
    device = Classifier.load(model_dir, runtime=runtime)
    evaluation = TFLiteModel(model_dir / "model.tflite", runtime=runtime)
    listed = split_folder(photos)
    pixels = load_pixels(listed, device.size)
    evaluated = evaluation.predict(pixels)
    for photo, probs in zip(listed, evaluated, strict=True):
        on_device = device.classify(photo.path.read_bytes())
        assert on_device.top3[0] == (device.manifest.labels[int(probs.argmax())],
                                     pytest.approx(float(probs.max())))
        assert np.array_equal(device.probabilities(preprocess(photo.path, device.size))[0], probs)
