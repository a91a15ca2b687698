"""Training-time augmentation that makes lab photos look more like field photos.

Runs on whole batches of uint8-range float images inside ``tf.data``: random crops and scale,
flips, rotation, shifts; a new background for part of the lab photos (their plain grey
background is swapped for another, rotated photo so the leaf sits in clutter); colour,
brightness, contrast and white-balance jitter; blur; sensor noise.
"""

from __future__ import annotations

from typing import Any, Literal


def build_augmenter(strength: Literal["field", "mild"] = "field") -> Any:
    """A function (images float32 0–255 [B,H,W,3]) → augmented images of the same shape.

    ``field`` is the full set above; ``mild`` (for a final polishing phase) keeps flips, quarter
    turns, light zoom and colour jitter, and drops new backgrounds, free rotation and blur.
    """
    import numpy as np
    import tensorflow as tf

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
        transforms = tf.stack([a0, a1, a2, b0, b1, b2, zeros, zeros], axis=1)
        return tf.raw_ops.ImageProjectiveTransformV3(
            images=x, transforms=transforms, output_shape=tf.shape(x)[1:3],
            fill_value=0.0, interpolation="BILINEAR", fill_mode="REFLECT",
        )

    def soften(x: Any) -> Any:
        """A cheap blur: bilinear down to half size and back up."""
        size = tf.shape(x)[1:3]
        return tf.image.resize(tf.image.resize(x, size // 2), size)

    def per_sample(shape: Any, lo: float, hi: float) -> Any:
        return tf.random.uniform(shape, lo, hi)

    def new_background(x: Any) -> Any:
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
        b = tf.shape(x)[0]
        grey = tf.reduce_mean(x, axis=-1, keepdims=True)
        x = grey + (x - grey) * per_sample([b, 1, 1, 1], 0.85, 1.15)  # saturation
        mean = tf.reduce_mean(x, axis=[1, 2, 3], keepdims=True)
        x = mean + (x - mean) * per_sample([b, 1, 1, 1], 0.9, 1.1)  # contrast
        x = x * per_sample([b, 1, 1, 1], 0.85, 1.15)  # brightness
        x = x * per_sample([b, 1, 1, 3], 0.95, 1.05)  # white balance
        return x

    def blur_and_noise(x: Any) -> Any:
        b = tf.shape(x)[0]
        blurred = soften(x)
        amount = tf.cast(tf.random.uniform([b, 1, 1, 1]) < 0.1, tf.float32)
        amount = amount * per_sample([b, 1, 1, 1], 0.3, 1.0)
        x = x * (1.0 - amount) + blurred * amount
        noise = tf.random.normal(tf.shape(x)) * per_sample([b, 1, 1, 1], 0.0, 2.0)
        return x + noise

    def mild(x: Any) -> Any:
        x = tf.image.rot90(x, k=tf.random.uniform([], 0, 4, dtype=tf.int32))
        x = tf.image.random_flip_left_right(x)
        b, size = tf.shape(x)[0], tf.shape(x)[1:3]
        crop = tf.cast(tf.cast(size, tf.float32) * tf.random.uniform([], 0.85, 1.0), tf.int32)
        x = tf.image.random_crop(x, tf.concat([[b], crop, [3]], axis=0))
        x = tf.image.resize(x, size)
        return tf.clip_by_value(colour(x), 0.0, 255.0)

    def augment(images: Any) -> Any:
        if strength == "mild":
            return mild(images)
        x = new_background(images)
        x = geometric(x)
        x = colour(x)
        x = blur_and_noise(x)
        return tf.clip_by_value(x, 0.0, 255.0)

    return augment
