"""Each step of the batch augmentation does what its recipe says to a batch, on real TensorFlow:
shapes and the 0–255 range kept, flat photos stay flat under warps, jitter within its bounds,
leaves onto backgrounds only where a plain background was found, reproducible for a seed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

pytestmark = pytest.mark.slow  # needs TensorFlow (the train extra)
tf = pytest.importorskip("tensorflow", reason="train extra not installed")

from agrifleet.models import augment_batch as steps  # noqa: E402  (imports TensorFlow)


def _flat(value: float = 100.0, batch: int = 8, side: int = 32) -> Any:
    return tf.fill([batch, side, side, 3], value)


def _leaf_on_grey(batch: int = 8, side: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """Green squares (the leaf) in the middle of a plain grey lab background, and their masks."""
    x = np.full((batch, side, side, 3), (150.0, 150.0, 155.0), np.float32)
    masks = np.zeros((batch, side, side), np.uint8)
    quarter = side // 4
    x[:, quarter:-quarter, quarter:-quarter] = (60.0, 140.0, 50.0)
    masks[:, quarter:-quarter, quarter:-quarter] = 255
    return x, masks


def _per_image_spread(x: Any) -> np.ndarray:
    """How far each image is from being one flat colour (max − min over its pixels)."""
    a = np.asarray(x)
    return (a.max(axis=(1, 2)) - a.min(axis=(1, 2))).max(axis=-1)


@pytest.fixture(autouse=True)
def _seeded() -> None:
    tf.random.set_seed(7)


def test_geometric_warps_each_photo_and_reflects_instead_of_black_borders() -> None:
    flat = steps.geometric(_flat())
    assert flat.shape == (8, 32, 32, 3)
    np.testing.assert_allclose(np.asarray(flat), 100.0, atol=1e-3)  # no empty corners
    ramp = tf.tile(tf.range(32, dtype=tf.float32)[None, None, :, None] * 8, [8, 32, 1, 3])
    warped = np.asarray(steps.geometric(ramp))
    assert all(not np.allclose(w, np.asarray(ramp[0]), atol=1) for w in warped)
    assert len({w.tobytes() for w in warped}) == 8  # one warp per photo


def test_soften_loses_fine_detail_but_keeps_the_mean() -> None:
    checker = np.indices((32, 32)).sum(axis=0) % 2 * 255.0
    x = tf.constant(np.repeat(checker[None, :, :, None], 3, axis=-1), tf.float32)
    soft = np.asarray(steps.soften(x))
    assert soft.std() < 0.2 * np.asarray(x).std()
    assert abs(soft.mean() - 127.5) < 2


def test_colour_and_exposure_keep_a_flat_photo_flat_within_their_bounds() -> None:
    for step, low, high in ((steps.colour, 0.85 * 0.95, 1.15 * 1.05),
                            (steps.exposure, 0.7 * 0.9, 1.3 * 1.1)):
        out = np.asarray(step(_flat(batch=64)))
        assert _per_image_spread(out).max() < 1e-3, step.__name__
        assert out.min() >= 100 * low - 1e-3 and out.max() <= 100 * high + 1e-3
        assert out.std() > 1, f"{step.__name__} changed nothing"


def test_blur_and_noise_add_at_most_a_little_sensor_noise() -> None:
    out = np.asarray(steps.blur_and_noise(_flat(batch=64)))
    assert abs(out.mean() - 100.0) < 0.2
    assert 0.3 < out.std() < 2.5


def test_new_background_replaces_the_grey_of_a_tenth_and_never_the_leaf() -> None:
    x, _ = _leaf_on_grey(batch=200)
    out = np.asarray(steps.new_background(tf.constant(x)))
    changed = np.abs(out - x).max(axis=(1, 2, 3)) > 1
    assert 5 <= changed.sum() <= 40  # about a tenth of 200
    np.testing.assert_array_equal(out[:, 12:20, 12:20], x[:, 12:20, 12:20])  # the leaf


def test_onto_backgrounds_moves_leaves_onto_the_bank_where_a_background_was_found() -> None:
    x, masks = _leaf_on_grey()
    bank = tf.constant(np.full((3, 32, 32, 3), (200, 0, 0), np.uint8))
    out = np.asarray(steps.onto_backgrounds(tf.constant(x), tf.constant(masks), bank, 1.0))
    corners = out[:, [0, 0, -1, -1], [0, -1, 0, -1]]
    assert (corners[..., 0] >= 200 * 0.6 - 1e-3).all() and (corners[..., 1:] < 1e-3).all()
    assert (out[:, 16, 16, 1] > 100).all()  # the leaf's middle is still leaf
    kept = steps.onto_backgrounds(tf.constant(x), tf.constant(masks), bank, 0.0)
    np.testing.assert_array_equal(np.asarray(kept), x)
    full = np.full_like(masks, 255)  # a field photo: no plain background found
    np.testing.assert_array_equal(
        np.asarray(steps.onto_backgrounds(tf.constant(x), tf.constant(full), bank, 1.0)), x)


def test_small_camera_and_recompress_change_a_share_of_the_photos() -> None:
    noisy = tf.constant(np.random.default_rng(0).uniform(0, 255, (40, 32, 32, 3)), tf.float32)
    for step, low, high in ((steps.small_camera, 3, 20), (steps.recompress, 10, 30)):
        out = np.asarray(step(noisy))
        assert out.shape == (40, 32, 32, 3)
        changed = np.abs(out - np.asarray(noisy)).max(axis=(1, 2, 3)) > 1
        assert low <= changed.sum() <= high, f"{step.__name__}: {changed.sum()} of 40"


def test_camera_mild_field_and_composite_stay_in_range() -> None:
    x, masks = _leaf_on_grey()
    bank = tf.constant(np.random.default_rng(1).integers(0, 256, (4, 32, 32, 3), np.uint8))
    chains: dict[str, Callable[[Any], Any]] = {
        "camera": steps.camera, "mild": steps.mild, "field": steps.field,
        "composite": lambda t: steps.composite(t, tf.constant(masks), bank, 0.5),
    }
    for name, chain in chains.items():
        out = np.asarray(chain(tf.constant(x) * 1.5))  # over-bright input is clipped back
        assert out.shape == x.shape and out.dtype == np.float32, name
        assert out.min() >= 0.0 and out.max() <= 255.0, name
        assert not np.allclose(out, x), name


def test_build_augmenter_runs_each_recipe_reproducibly_and_refuses_an_unknown_one() -> None:
    x, masks = _leaf_on_grey()
    backgrounds = np.random.default_rng(2).integers(0, 256, (4, 32, 32, 3), np.uint8)
    for recipe in steps.RECIPES:
        augment = steps.build_augmenter(recipe, backgrounds, composite_share=0.5)
        runs = []
        for seed in (1, 1, 2):
            tf.random.set_seed(seed)
            runs.append(np.asarray(augment(tf.constant(x), tf.constant(masks))))
        assert runs[0].shape == x.shape, recipe
        np.testing.assert_array_equal(runs[0], runs[1])
        assert not np.array_equal(runs[0], runs[2]), recipe
    graph = tf.function(steps.build_augmenter("composite", backgrounds, 0.5))  # as transfer.py
    assert graph(tf.constant(x), tf.constant(masks)).shape == x.shape
    with pytest.raises(ValueError, match="unknown augmentation 'wild'"):
        steps.build_augmenter("wild")  # type: ignore[arg-type]
