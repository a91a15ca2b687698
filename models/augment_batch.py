"""Augmentation of whole batches inside ``tf.data``: the training recipes ``field``, ``mild`` and
``composite`` (:func:`build_augmenter`), each a chain of the steps below.

Every step takes a batch of uint8-range float images [B,H,W,3] (and what else it names) and
returns a batch of the same shape, drawing its random numbers per image from TensorFlow's global
seed (the trainer sets it). The leaf masks and generated backgrounds ``composite`` needs are made
once before training by :mod:`models.augment`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import numpy as np
import tensorflow as tf

Recipe = Literal["field", "mild", "composite"]
RECIPES: tuple[Recipe, ...] = ("field", "mild", "composite")


def per_sample(shape: Any, lo: float, hi: float) -> Any:
    """Uniform random factors in [lo, hi) of ``shape`` (one per image, or per image and channel)."""
    return tf.random.uniform(shape, lo, hi)


def _warp(images: Any, transforms: Any, fill_mode: str) -> Any:
    """Each image through its projective ``transforms`` row, bilinear, the same size."""
    return tf.raw_ops.ImageProjectiveTransformV3(
        images=images, transforms=transforms, output_shape=tf.shape(images)[1:3],
        fill_value=0.0, interpolation="BILINEAR", fill_mode=fill_mode,
    )


def soften(x: Any) -> Any:
    """A cheap blur: bilinear down to half size and back up."""
    size = tf.shape(x)[1:3]
    return tf.image.resize(tf.image.resize(x, size // 2), size)


def geometric(x: Any) -> Any:
    """One affine warp per image: flips, any rotation, zoom 0.95–1.25x, ±10 % shift."""
    b = tf.shape(x)[0]
    h = tf.cast(tf.shape(x)[1], tf.float32)
    w = tf.cast(tf.shape(x)[2], tf.float32)
    theta = tf.random.uniform([b], -np.pi, np.pi)
    zoom = tf.exp(tf.random.uniform([b], np.log(0.95), np.log(1.25)))
    sx = tf.where(tf.random.uniform([b]) < 0.5, -1.0, 1.0) / (
        zoom * tf.random.uniform([b], 0.9, 1.1))
    sy = 1.0 / (zoom * tf.random.uniform([b], 0.9, 1.1))
    cos, sin = tf.cos(theta), tf.sin(theta)
    a0, a1, b0, b1 = cos * sx, -sin * sy, sin * sx, cos * sy
    cx, cy = (w - 1) / 2, (h - 1) / 2
    tx = tf.random.uniform([b], -0.1, 0.1) * w
    ty = tf.random.uniform([b], -0.1, 0.1) * h
    a2 = cx - a0 * cx - a1 * cy + tx
    b2 = cy - b0 * cx - b1 * cy + ty
    zeros = tf.zeros([b])
    return _warp(x, tf.stack([a0, a1, a2, b0, b1, b2, zeros, zeros], axis=1), "REFLECT")


def new_background(x: Any) -> Any:
    """On a tenth of the photos, the plain lab background (grey or very dark) is replaced by
    another photo of the batch, turned a quarter and dimmed or brightened 0.5–1.1x."""
    b = tf.shape(x)[0]
    rgb_max = tf.reduce_max(x, axis=-1, keepdims=True)
    rgb_min = tf.reduce_min(x, axis=-1, keepdims=True)
    saturation = (rgb_max - rgb_min) / (rgb_max + 1.0)
    # Plain lab backgrounds are grey or very dark: low saturation or low brightness.
    background = tf.cast((saturation < 0.12) | (rgb_max < 35.0), tf.float32)
    background = soften(background)
    other = tf.image.rot90(tf.roll(x, shift=1, axis=0), k=1)
    other = other * per_sample([b, 1, 1, 1], 0.5, 1.1)
    use = tf.cast(tf.random.uniform([b, 1, 1, 1]) < 0.1, tf.float32)
    mask = background * use
    return x * (1.0 - mask) + other * mask


def colour(x: Any) -> Any:
    """Saturation ±15 %, contrast ±10 %, brightness ±15 %, white balance ±5 %."""
    b = tf.shape(x)[0]
    grey = tf.reduce_mean(x, axis=-1, keepdims=True)
    x = grey + (x - grey) * per_sample([b, 1, 1, 1], 0.85, 1.15)  # saturation
    mean = tf.reduce_mean(x, axis=[1, 2, 3], keepdims=True)
    x = mean + (x - mean) * per_sample([b, 1, 1, 1], 0.9, 1.1)  # contrast
    x = x * per_sample([b, 1, 1, 1], 0.85, 1.15)  # brightness
    return x * per_sample([b, 1, 1, 3], 0.95, 1.05)  # white balance


def blur_and_noise(x: Any) -> Any:
    """A tenth of the photos blurred (30–100 % of :func:`soften`), sensor noise on all."""
    b = tf.shape(x)[0]
    blurred = soften(x)
    amount = tf.cast(tf.random.uniform([b, 1, 1, 1]) < 0.1, tf.float32)
    amount = amount * per_sample([b, 1, 1, 1], 0.3, 1.0)
    x = x * (1.0 - amount) + blurred * amount
    noise = tf.random.normal(tf.shape(x)) * per_sample([b, 1, 1, 1], 0.0, 2.0)
    return x + noise


def onto_backgrounds(x: Any, masks: Any, bank: Any, share: float) -> Any:
    """On ``share`` of the photos with a plain background found (``masks``: uint8 [B,H,W], 255
    on the leaf), the leaf shrunk to 0.45–1.0x and moved by up to a fifth of the frame over a
    random image of ``bank`` (turned, 0.6–1.2x as bright); field photos and outliers stay."""
    b = tf.shape(x)[0]
    h = tf.cast(tf.shape(x)[1], tf.float32)
    w = tf.cast(tf.shape(x)[2], tf.float32)
    scale = tf.random.uniform([b], 0.45, 1.0)
    dx = tf.random.uniform([b], -0.2, 0.2) * w
    dy = tf.random.uniform([b], -0.2, 0.2) * h
    cx, cy = (w - 1) / 2, (h - 1) / 2
    zeros = tf.zeros([b])
    transforms = tf.stack([1 / scale, zeros, cx - (cx + dx) / scale,
                           zeros, 1 / scale, cy - (cy + dy) / scale, zeros, zeros], axis=1)
    m = tf.cast(masks, tf.float32)[..., None] / 255.0
    leaf, m = _warp(x, transforms, "CONSTANT"), _warp(m, transforms, "CONSTANT")
    pick = tf.random.uniform([b], 0, tf.shape(bank)[0], dtype=tf.int32)
    back = tf.cast(tf.gather(bank, pick), tf.float32)
    back = tf.image.rot90(back, k=tf.random.uniform([], 0, 4, dtype=tf.int32))
    back = tf.image.resize(back, tf.shape(x)[1:3]) * per_sample([b, 1, 1, 1], 0.6, 1.2)
    mixed = leaf * m + back * (1.0 - m)
    # Only photos with a plain background found (not field photos, not outliers).
    found = tf.reduce_mean(tf.cast(masks, tf.float32), axis=[1, 2]) / 255.0
    use = (tf.random.uniform([b]) < share) & (found > 0.03) & (found < 0.97)
    return tf.where(use[:, None, None, None], mixed, x)


def exposure(x: Any) -> Any:
    """Saturation 0.7–1.3x, contrast 0.8–1.2x, exposure 0.7–1.3x, white balance ±10 %."""
    b = tf.shape(x)[0]
    grey = tf.reduce_mean(x, axis=-1, keepdims=True)
    x = grey + (x - grey) * per_sample([b, 1, 1, 1], 0.7, 1.3)
    mean = tf.reduce_mean(x, axis=[1, 2, 3], keepdims=True)
    x = mean + (x - mean) * per_sample([b, 1, 1, 1], 0.8, 1.2)
    return x * per_sample([b, 1, 1, 1], 0.7, 1.3) * per_sample([b, 1, 1, 3], 0.9, 1.1)


def small_camera(x: Any) -> Any:
    """A quarter of the photos down to 40–100 % of their size (one factor a batch) and back."""
    b, size = tf.shape(x)[0], tf.shape(x)[1:3]
    small = tf.cast(tf.cast(size, tf.float32) * tf.random.uniform([], 0.4, 1.0), tf.int32)
    lowres = tf.image.resize(tf.image.resize(x, small, antialias=True), size)
    use = tf.cast(tf.random.uniform([b, 1, 1, 1]) < 0.25, tf.float32)
    return x * (1.0 - use) + lowres * use


def recompress(x: Any) -> Any:
    """Half of the photos (0–255, already clipped) re-encoded as JPEG at quality 30–95."""
    b = tf.shape(x)[0]
    quality = tf.random.uniform([b], 30, 96, dtype=tf.int32)
    chosen = tf.random.uniform([b]) < 0.5

    def one(args: Any) -> Any:
        img, q, do = args
        return tf.cond(do, lambda: tf.image.adjust_jpeg_quality(img / 255.0, q) * 255.0,
                       lambda: img)

    return tf.map_fn(one, (x, quality, chosen), fn_output_signature=tf.float32)


def camera(x: Any) -> Any:
    """What a field camera does to a photo: :func:`exposure`, :func:`small_camera`,
    :func:`blur_and_noise`, :func:`recompress`."""
    x = blur_and_noise(small_camera(exposure(x)))
    return recompress(tf.clip_by_value(x, 0.0, 255.0))


def mild(x: Any) -> Any:
    """For a final polishing phase: quarter turns, flips, a light crop, :func:`colour`."""
    x = tf.image.rot90(x, k=tf.random.uniform([], 0, 4, dtype=tf.int32))
    x = tf.image.random_flip_left_right(x)
    b, size = tf.shape(x)[0], tf.shape(x)[1:3]
    crop = tf.cast(tf.cast(size, tf.float32) * tf.random.uniform([], 0.85, 1.0), tf.int32)
    x = tf.image.random_crop(x, tf.concat([[b], crop, [3]], axis=0))
    x = tf.image.resize(x, size)
    return tf.clip_by_value(colour(x), 0.0, 255.0)


def field(x: Any) -> Any:
    """The recipe of the first shipped models: new backgrounds, warp, colour, blur, noise."""
    x = blur_and_noise(colour(geometric(new_background(x))))
    return tf.clip_by_value(x, 0.0, 255.0)


def composite(x: Any, masks: Any, bank: Any | None, share: float) -> Any:
    """The 2.0.0 recipe: :func:`onto_backgrounds` (when there is a ``bank``), the
    :func:`geometric` warp, then :func:`camera`."""
    if bank is not None:
        x = onto_backgrounds(x, masks, bank, share)
    return tf.clip_by_value(camera(geometric(x)), 0.0, 255.0)


def build_augmenter(strength: Recipe = "field", backgrounds: np.ndarray | None = None,
                    composite_share: float = 0.5) -> Callable[..., Any]:
    """A function (images float32 0–255 [B,H,W,3], masks) → augmented images, same shape.

    ``field`` (:func:`field`) and ``mild`` (:func:`mild`) ignore the masks; ``composite``
    (:func:`composite`) puts ``composite_share`` of the leaves, cut by their masks (uint8
    [B,H,W]), onto ``backgrounds`` (uint8 [N,H,W,3], e.g. :func:`models.augment.background`).
    """
    if strength not in RECIPES:
        raise ValueError(f"unknown augmentation {strength!r}; one of {', '.join(RECIPES)}")
    bank = None if backgrounds is None else tf.constant(backgrounds)

    def augment(images: Any, masks: Any = None) -> Any:
        if strength == "mild":
            return mild(images)
        if strength == "composite":
            return composite(images, masks, bank, composite_share)
        return field(images)

    return augment
