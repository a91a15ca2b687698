"""The size and quality sweep resizes and re-encodes each photo as asked and scores every cell."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from agrifleet.models.sweep import QUALITIES, SIZES, degrade, degraded_pixels, format_sweep, sweep
from tests.agrifleet.inference.conftest import leaf_jpeg


def _quantisation(quality: int) -> dict[int, list[int]]:
    buf = io.BytesIO()
    Image.new("RGB", (64, 64)).save(buf, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buf.getvalue())).quantization  # type: ignore[attr-defined]


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("quality", QUALITIES)
def test_degrade_resizes_the_shorter_side_and_encodes_at_the_quality(size: int, quality: int
                                                                     ) -> None:
    photo = Image.open(io.BytesIO(leaf_jpeg((300, 200))))
    out = Image.open(io.BytesIO(degrade(photo, size, quality)))
    assert out.format == "JPEG"
    assert out.size == (round(300 * size / 200), size)
    assert out.quantization == _quantisation(quality)  # type: ignore[attr-defined]


def test_lower_quality_loses_more_detail() -> None:
    photo = Image.open(io.BytesIO(leaf_jpeg((192, 192), spots=40)))
    original = np.asarray(photo.resize((512, 512), Image.Resampling.BICUBIC), np.float64)
    errors = [np.abs(np.asarray(Image.open(io.BytesIO(degrade(photo, 512, q))), np.float64)
                     - original).mean() for q in (95, 75, 50)]
    assert errors[0] < errors[1] < errors[2]


def _brightness_model(pixels: np.ndarray) -> np.ndarray:
    """A real, if simple, classifier: class 1 when the photo is bright."""
    bright = pixels.reshape(len(pixels), -1).mean(axis=1) > 128
    return np.stack([~bright, bright], axis=1).astype(np.float32)


def _flat(tmp_path: Path, name: str, grey: int) -> Path:
    path = tmp_path / f"{name}.jpg"
    Image.new("RGB", (192, 192), (grey, grey, grey)).save(path, quality=90)
    return path


def test_sweep_scores_every_size_and_quality(tmp_path: Path) -> None:
    paths = [_flat(tmp_path, "a", 40), _flat(tmp_path, "b", 40), _flat(tmp_path, "c", 220),
             _flat(tmp_path, "d", 220)]
    truth = np.array([0, 0, 1, 0])  # the last photo is labelled wrongly: 3 of 4 right
    seen: list[tuple[int, ...]] = []

    def model(pixels: np.ndarray) -> np.ndarray:
        seen.append(pixels.shape)
        return _brightness_model(pixels)

    result = sweep(paths, truth, model, 64, sizes=(128, 1024), qualities=(95, 50))
    assert result["top1"] == {"128": {"95": 0.75, "50": 0.75}, "1024": {"95": 0.75, "50": 0.75}}
    assert result["spread"] == {"95": 0.0, "50": 0.0}
    assert seen == [(4, 64, 64, 3)] * 4
    text = format_sweep("lab", result)
    assert "1024" in text and "q50" in text and "75.0%" in text


def test_degraded_pixels_are_the_models_input_size(tmp_path: Path) -> None:
    path = tmp_path / "leaf.jpg"
    path.write_bytes(leaf_jpeg((320, 240)))
    pixels = degraded_pixels([path, path], 256, 75, 96)
    assert pixels.shape == (2, 96, 96, 3) and pixels.dtype == np.uint8
    assert np.array_equal(pixels[0], pixels[1])


def test_each_size_is_measured_against_the_best_size_at_its_quality(tmp_path: Path) -> None:
    paths = [_flat(tmp_path, n, 40) for n in "abcd"]
    truth = np.zeros(4, np.int64)
    # Calls come size by size, quality by quality: 128/q95, 128/q50, 1024/q95, 1024/q50.
    right_per_call = iter([4, 3, 2, 3])

    def model(pixels: np.ndarray) -> np.ndarray:
        right = next(right_per_call)
        probs = np.zeros((len(pixels), 2), np.float32)
        probs[:right, 0] = 1.0
        probs[right:, 1] = 1.0
        return probs

    steps: list[tuple[int, int, float]] = []
    result = sweep(paths, truth, model, 64, sizes=(128, 1024), qualities=(95, 50),
                   on_step=lambda *step: steps.append(step))
    assert steps == [(128, 95, 1.0), (128, 50, 0.75), (1024, 95, 0.5), (1024, 50, 0.75)]
    assert result["top1"] == {"128": {"95": 1.0, "50": 0.75}, "1024": {"95": 0.5, "50": 0.75}}
    assert result["best_size"] == {"95": 128, "50": 128}
    assert result["below_best"] == {"128": {"95": 0.0, "50": 0.0},
                                    "1024": {"95": 0.5, "50": 0.0}}
    assert "(-50.0)" in format_sweep("lab", result)
