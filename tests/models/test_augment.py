"""The leaf is cut from a plain lab background, and generated backgrounds are seeded textures:
what the composite augmentation is given before training."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from agrifleet.models.augment import BACKGROUNDS, background, leaf_mask


def _lab_photo(back: tuple[int, int, int] = (150, 150, 155), side: int = 96
               ) -> tuple[np.ndarray, np.ndarray]:
    """A green leaf with dark lesions on a plain background, and where the leaf truly is."""
    img = Image.new("RGB", (side, side), back)
    truth = Image.new("L", (side, side), 0)
    box = (side * 0.2, side * 0.15, side * 0.8, side * 0.85)
    ImageDraw.Draw(img).ellipse(box, fill=(60, 140, 50))
    ImageDraw.Draw(truth).ellipse(box, fill=255)
    draw = ImageDraw.Draw(img)
    for x, y in ((0.45, 0.4), (0.55, 0.6)):
        draw.ellipse((side * x - 5, side * y - 5, side * x + 5, side * y + 5), fill=(25, 20, 15))
    return np.asarray(img), np.asarray(truth) > 0


def _iou(mask: np.ndarray, truth: np.ndarray) -> float:
    inside = mask > 0.5
    return float((inside & truth).sum() / (inside | truth).sum())


@pytest.mark.parametrize("back", [(150, 150, 155), (120, 125, 160), (10, 10, 10)])
def test_leaf_mask_finds_the_leaf_with_its_dark_lesions(back: tuple[int, int, int]) -> None:
    pixels, truth = _lab_photo(back)
    mask = leaf_mask(pixels)
    assert mask.shape == truth.shape and mask.dtype == np.float32
    assert _iou(mask, truth) > 0.9
    assert mask[int(96 * 0.4), int(96 * 0.45)] > 0.9  # the dark lesion counts as leaf
    assert mask[:5, :5].max() == 0.0


def test_a_leaf_filling_the_frame_is_all_leaf() -> None:
    rng = np.random.default_rng(0)
    green = np.clip(rng.normal([70, 150, 60], 15, (64, 64, 3)), 0, 255).astype(np.uint8)
    assert leaf_mask(green).min() == 1.0


@pytest.mark.parametrize("kind", BACKGROUNDS)
def test_backgrounds_are_seeded_textures(kind: str) -> None:
    a = background(kind, np.random.default_rng(3), 64)
    b = background(kind, np.random.default_rng(3), 64)
    c = background(kind, np.random.default_rng(4), 64)
    assert a.shape == (64, 64, 3) and a.dtype == np.uint8
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert a.std() > 2  # not a flat colour
    mean = a.reshape(-1, 3).mean(axis=0)
    if kind == "soil":
        assert mean[0] > mean[2]  # brown: more red than blue
    if kind == "foliage":
        assert mean[1] > mean[0] and mean[1] > mean[2]
    with pytest.raises(ValueError, match="unknown background"):
        background("sky", np.random.default_rng(0), 8)
