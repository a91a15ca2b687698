"""The numpy augmentation cuts the leaf from a plain lab background, puts it on generated
backgrounds and degrades photos the way field cameras do, reproducibly for a seed."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from models.augment import (
    BACKGROUNDS,
    add_noise,
    background,
    blur,
    composite,
    field_augment,
    jpeg,
    leaf_mask,
    multi_resolution,
    perspective,
    random_resized_crop,
    white_balance,
)


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


def test_composite_puts_the_scaled_leaf_where_asked() -> None:
    leaf = np.full((20, 20, 3), (0, 200, 0), np.uint8)
    mask = np.zeros((20, 20), np.float32)
    mask[5:15, 5:15] = 1.0
    back = np.full((100, 100, 3), (100, 50, 20), np.uint8)
    out = composite(leaf, mask, back, scale=2.0, centre=(0.25, 0.75))
    # 2x: the 10 px leaf square becomes 20 px, centred at (25, 75).
    assert (out[66:84, 16:34] == (0, 200, 0)).all()
    assert (out[:50] == (100, 50, 20)).all() and (out[:, 60:] == (100, 50, 20)).all()


def test_random_resized_crop_and_multi_resolution_sizes() -> None:
    rng = np.random.default_rng(0)
    pixels, _ = _lab_photo(side=120)
    assert random_resized_crop(pixels, rng, 64).shape == (64, 64, 3)
    small = multi_resolution(pixels, 30)
    assert small.shape == pixels.shape
    assert np.abs(small.astype(int) - pixels).mean() > 0.5  # detail is lost


def test_perspective_leaves_no_empty_border() -> None:
    rng = np.random.default_rng(1)
    pixels = np.full((64, 64, 3), 200, np.uint8)
    out = perspective(pixels, rng, strength=0.2)
    assert out.shape == pixels.shape and out.min() >= 190
    gradient = np.tile(np.arange(64, dtype=np.uint8)[None, :, None] * 4, (64, 1, 3))
    assert not np.array_equal(perspective(gradient, rng, 0.2), gradient)


def test_photometric_changes() -> None:
    rng = np.random.default_rng(0)
    flat = np.full((32, 32, 3), 100, np.uint8)
    assert white_balance(flat, (1.1, 1.0, 0.8), 1.5)[0, 0].tolist() == [165, 150, 120]
    noisy = add_noise(flat, rng, 5.0)
    assert 3.5 < noisy.astype(float).std() < 6.5
    sharp, _ = _lab_photo()
    assert np.abs(np.diff(blur(sharp, 2.0).astype(int), axis=1)).mean() < \
        np.abs(np.diff(sharp.astype(int), axis=1)).mean()
    recompressed = jpeg(sharp, 30)
    assert recompressed.shape == sharp.shape and not np.array_equal(recompressed, sharp)


def test_field_augment_is_reproducible_and_changes_the_photo() -> None:
    pixels, _ = _lab_photo(side=128)
    a = field_augment(pixels, np.random.default_rng(5), 96)
    b = field_augment(pixels, np.random.default_rng(5), 96)
    assert a.shape == (96, 96, 3) and a.dtype == np.uint8
    assert np.array_equal(a, b)
    outs = [field_augment(pixels, np.random.default_rng(s), 96) for s in range(6)]
    assert len({o.tobytes() for o in outs}) == 6
    # Some of them sit on a generated background: the plain grey corner is gone.
    grey = np.array([150, 150, 155])
    assert any(np.abs(o[:4, :4].reshape(-1, 3).mean(axis=0) - grey).max() > 25 for o in outs)
