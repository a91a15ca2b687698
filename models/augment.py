"""Training-time augmentation that makes lab photos look more like field photos.

Two sets. :func:`build_augmenter` runs on whole batches of uint8-range float images inside
``tf.data`` (the recipe of the shipped model): random crops and scale, flips, rotation, shifts; a
new background for part of the lab photos (their plain grey background is swapped for another,
rotated photo so the leaf sits in clutter); colour, brightness, contrast and white-balance jitter;
blur; sensor noise.

The numpy/Pillow functions below (no TensorFlow needed) prepare the next recipe, one photo at a
time with a seeded ``numpy.random.Generator``: the leaf cut from its plain lab background by a
colour/saturation mask (:func:`leaf_mask`) and composited onto generated backgrounds (soil-like
noise, out-of-focus foliage, gradients; :func:`composite`) at varied scales and positions; random
resized crops; perspective; blur; noise; white balance and exposure; JPEG re-compression;
multi-resolution (down to a small camera's size and back). :func:`field_augment` chains them.
"""

from __future__ import annotations

import io
from typing import Any, Literal

import numpy as np
from PIL import Image, ImageDraw, ImageFilter


def build_augmenter(strength: Literal["field", "mild", "composite"] = "field", seed: int = 0
                    ) -> Any:
    """A function (images float32 0–255 [B,H,W,3]) → augmented images of the same shape.

    ``field`` is the full set above; ``mild`` (for a final polishing phase) keeps flips, quarter
    turns, light zoom and colour jitter, and drops new backgrounds, free rotation and blur;
    ``composite`` runs :func:`field_augment` (generated backgrounds, perspective, JPEG, …) on
    each photo, seeded by ``seed``, then the same free rotation and flips as ``field``.
    """
    import tensorflow as tf

    rng = np.random.default_rng(seed)

    def numpy_field(batch: np.ndarray) -> np.ndarray:
        side = batch.shape[1]
        pixels = np.clip(batch, 0, 255).astype(np.uint8)
        return np.stack([field_augment(img, rng, side) for img in pixels]).astype(np.float32)

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

    def composited(images: Any) -> Any:
        x = tf.numpy_function(numpy_field, [images], tf.float32, stateful=True)
        x.set_shape(images.shape)
        return tf.clip_by_value(geometric(x), 0.0, 255.0)

    def augment(images: Any) -> Any:
        if strength == "mild":
            return mild(images)
        if strength == "composite":
            return composited(images)
        x = new_background(images)
        x = geometric(x)
        x = colour(x)
        x = blur_and_noise(x)
        return tf.clip_by_value(x, 0.0, 255.0)

    return augment


# --- numpy/Pillow augmentation, one photo at a time -------------------------------------------

#: A pixel whose chromaticity is this far from the background's is leaf (shadows keep the
#: background's chromaticity and only get darker, so they stay background).
CHROMA_DISTANCE = 0.045
#: Pixels darker than this (max of r, g, b) are not leaf; a background darker is black.
DARK = 30
#: A mask with less leaf than this share found no leaf, only a border it could not read.
MIN_LEAF_SHARE = 0.2
#: A border ring more saturated than this is no plain lab background but leaf or clutter.
PLAIN_SATURATION = 0.3
BACKGROUNDS = ("soil", "foliage", "gradient")


def _fill_holes(mask: Image.Image) -> Image.Image:
    """Leaf everywhere the background cannot reach from the border (dark lesions stay leaf)."""
    padded = Image.new("L", (mask.width + 2, mask.height + 2), 0)
    padded.paste(mask, (1, 1))
    ImageDraw.floodfill(padded, (0, 0), 128)
    reached = np.asarray(padded, np.uint8)[1:-1, 1:-1] == 128
    return Image.fromarray(np.where(reached, 0, 255).astype(np.uint8))


def leaf_mask(pixels: np.ndarray, feather: float = 1.5) -> np.ndarray:
    """float32 (H, W) in [0, 1]: 1 on the leaf, 0 on the plain lab background.

    The background's colour is the median of the photo's outer 4-pixel ring; pixels whose
    chromaticity (r, g, b over their sum) lies :data:`CHROMA_DISTANCE` from it are leaf. A
    closing then an opening (5 px) fill pale lesions and drop specks; the edge is feathered by a
    Gaussian of ``feather`` px.
    """
    rgb = pixels.astype(np.float32)
    ring = np.concatenate([rgb[:4].reshape(-1, 3), rgb[-4:].reshape(-1, 3),
                           rgb[:, :4].reshape(-1, 3), rgb[:, -4:].reshape(-1, 3)])
    chroma = rgb / (rgb.sum(axis=-1, keepdims=True) + 1.0)
    ring_chroma = ring / (ring.sum(axis=-1, keepdims=True) + 1.0)
    back_chroma = np.median(ring_chroma, axis=0)
    top = rgb.max(axis=-1)
    back_top = float(np.median(ring.max(axis=-1)))
    ring_saturation = float(np.median((ring.max(axis=-1) - ring.min(axis=-1))
                                      / (ring.max(axis=-1) + 1.0)))
    if ring_saturation > PLAIN_SATURATION and back_top >= DARK:
        return np.ones(pixels.shape[:2], np.float32)  # the leaf fills the frame: no background
    if back_top < DARK:  # a black background: the leaf is what is brighter than it
        leaf = top >= DARK
    else:
        leaf = (np.linalg.norm(chroma - back_chroma, axis=-1) > CHROMA_DISTANCE) & (top >= DARK)
    mask = Image.fromarray((leaf * 255).astype(np.uint8))
    mask = mask.filter(ImageFilter.MaxFilter(5)).filter(ImageFilter.MinFilter(5))  # close
    mask = mask.filter(ImageFilter.MinFilter(5)).filter(ImageFilter.MaxFilter(5))  # open
    mask = _fill_holes(mask)
    share = float(np.asarray(mask).mean()) / 255
    if share < MIN_LEAF_SHARE:  # a border of leaf and clutter, not a plain background
        return np.ones(pixels.shape[:2], np.float32)
    if feather > 0:
        mask = mask.filter(ImageFilter.GaussianBlur(feather))
    return np.asarray(mask, np.float32) / 255.0


def _octaves(rng: np.random.Generator, side: int, channels: int, octaves: int = 4) -> np.ndarray:
    """Fractal value noise in [0, 1]: coarse-to-fine random grids, bicubic-upsampled."""
    total = np.zeros((side, side, channels), np.float32)
    weight = 0.0
    for o in range(octaves):
        cells = 4 * 2 ** o
        grid = rng.integers(0, 256, (cells, cells, channels), dtype=np.uint8)
        layers = [np.asarray(Image.fromarray(grid[..., c]).resize(
            (side, side), Image.Resampling.BICUBIC), np.float32) for c in range(channels)]
        amp = 0.5 ** o
        total += amp * np.stack(layers, axis=-1) / 255.0
        weight += amp
    return total / weight


def background(kind: str, rng: np.random.Generator, side: int) -> np.ndarray:
    """A generated background, uint8 (side, side, 3): ``soil`` (brown fractal noise with
    pebbles), ``foliage`` (out-of-focus leaves in varied greens) or ``gradient`` (sky, wall)."""
    if kind == "soil":
        base = rng.uniform([70, 50, 30], [150, 115, 80])
        texture = _octaves(rng, side, 1)[..., 0]
        img = base * (0.55 + 0.9 * texture[..., None])
        out = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))
        draw = ImageDraw.Draw(out)
        for _ in range(int(rng.integers(0, 25))):
            x, y = rng.uniform(0, side, 2)
            r = rng.uniform(1, side / 40)
            shade = tuple(int(v) for v in rng.uniform(60, 200) * np.array([1.0, 0.9, 0.8]))
            draw.ellipse((x - r, y - r, x + r, y + r), fill=shade)
        return np.asarray(out, np.uint8)
    if kind == "foliage":
        big = round(side * 1.5)  # drawn larger, turned, then cut: no empty corners
        out = Image.new("RGB", (big, big), tuple(int(v) for v in rng.uniform(
            [20, 40, 10], [70, 110, 50])))
        draw = ImageDraw.Draw(out)
        for _ in range(int(rng.integers(25, 60))):
            x, y = rng.uniform(-0.1, 1.1, 2) * big
            rx, ry = rng.uniform(0.05, 0.3) * side, rng.uniform(0.02, 0.12) * side
            green = rng.uniform([20, 60, 10], [120, 190, 80])
            draw.ellipse((x - rx, y - ry, x + rx, y + ry),
                         fill=tuple(int(v) for v in green))
        out = out.rotate(float(rng.uniform(0, 360)), Image.Resampling.BILINEAR)
        edge = (big - side) // 2
        out = out.crop((edge, edge, edge + side, edge + side))
        out = out.filter(ImageFilter.GaussianBlur(float(rng.uniform(1.0, side / 40))))
        return np.asarray(out, np.uint8)
    if kind == "gradient":
        a, b = rng.uniform(40, 240, 3), rng.uniform(40, 240, 3)
        yy, xx = np.mgrid[0:side, 0:side] / max(side - 1, 1)
        angle = rng.uniform(0, 2 * np.pi)
        t = np.cos(angle) * xx + np.sin(angle) * yy
        t = (t - t.min()) / max(float(np.ptp(t)), 1e-9)
        return np.clip(a + (b - a) * t[..., None], 0, 255).astype(np.uint8)
    raise ValueError(f"unknown background {kind!r}; one of {', '.join(BACKGROUNDS)}")


def composite(
    leaf: np.ndarray, mask: np.ndarray, back: np.ndarray, scale: float = 1.0,
    centre: tuple[float, float] = (0.5, 0.5),
) -> np.ndarray:
    """``leaf`` (masked by ``mask``) scaled by ``scale`` and pasted onto ``back`` with its middle
    at ``centre`` (fractions of the background's width and height); uint8 like ``back``."""
    h, w = back.shape[:2]
    lh, lw = leaf.shape[:2]
    size = (max(1, round(lw * scale)), max(1, round(lh * scale)))
    leaf_img = Image.fromarray(leaf).resize(size, Image.Resampling.BILINEAR)
    mask_img = Image.fromarray(np.rint(mask * 255).astype(np.uint8)).resize(
        size, Image.Resampling.BILINEAR)
    out = Image.fromarray(back).copy()
    left = round(centre[0] * w - size[0] / 2)
    top = round(centre[1] * h - size[1] / 2)
    out.paste(leaf_img, (left, top), mask_img)
    return np.asarray(out, np.uint8)


def random_resized_crop(
    pixels: np.ndarray, rng: np.random.Generator, side: int,
    area: tuple[float, float] = (0.35, 1.0), ratio: tuple[float, float] = (3 / 4, 4 / 3),
) -> np.ndarray:
    """A random crop of ``area`` share and aspect ``ratio``, resized to ``side``×``side``."""
    h, w = pixels.shape[:2]
    share = rng.uniform(*area)
    aspect = np.exp(rng.uniform(np.log(ratio[0]), np.log(ratio[1])))
    cw = int(min(w, round(np.sqrt(share * w * h * aspect))))
    ch = int(min(h, round(np.sqrt(share * w * h / aspect))))
    x = int(rng.integers(0, w - cw + 1))
    y = int(rng.integers(0, h - ch + 1))
    crop = Image.fromarray(pixels[y:y + ch, x:x + cw])
    return np.asarray(crop.resize((side, side), Image.Resampling.BILINEAR), np.uint8)


def _perspective_coefficients(out: np.ndarray, src: np.ndarray) -> list[float]:
    """The 8 coefficients of Pillow's PERSPECTIVE transform that sample the input at ``src``
    for the output points ``out`` (4 corners each)."""
    rows = []
    for (x, y), (u, v) in zip(out, src, strict=True):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
    return [float(c) for c in np.linalg.solve(np.array(rows), src.reshape(8))]


def perspective(pixels: np.ndarray, rng: np.random.Generator, strength: float = 0.12
                ) -> np.ndarray:
    """A photo taken at an angle: the output's corners show points up to ``strength`` of the
    side inside the input's corners (inside, so no empty borders appear)."""
    h, w = pixels.shape[:2]
    corners = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float64)
    inward = np.array([[1, 1], [-1, 1], [-1, -1], [1, -1]], np.float64)
    src = corners + inward * rng.uniform(0, strength, (4, 2)) * [w, h]
    coeffs = _perspective_coefficients(corners, src)
    out = Image.fromarray(pixels).transform((w, h), Image.Transform.PERSPECTIVE, coeffs,
                                            Image.Resampling.BILINEAR)
    return np.asarray(out, np.uint8)


def blur(pixels: np.ndarray, radius: float) -> np.ndarray:
    """Gaussian blur of ``radius`` px (out of focus, camera shake)."""
    return np.asarray(Image.fromarray(pixels).filter(ImageFilter.GaussianBlur(radius)), np.uint8)


def add_noise(pixels: np.ndarray, rng: np.random.Generator, sigma: float) -> np.ndarray:
    """Gaussian sensor noise of ``sigma`` grey levels."""
    noisy = pixels.astype(np.float32) + rng.normal(0.0, sigma, pixels.shape)
    return np.clip(np.rint(noisy), 0, 255).astype(np.uint8)


def white_balance(pixels: np.ndarray, gains: tuple[float, float, float], exposure: float = 1.0
                  ) -> np.ndarray:
    """Per-channel gains (white balance) and one overall gain (exposure)."""
    out = pixels.astype(np.float32) * np.array(gains, np.float32) * exposure
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def jpeg(pixels: np.ndarray, quality: int) -> np.ndarray:
    """Re-encoded as JPEG at ``quality`` and decoded again (a cheap phone, a slow link)."""
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, "JPEG", quality=int(quality))
    with Image.open(io.BytesIO(buf.getvalue())) as img:
        return np.asarray(img.convert("RGB"), np.uint8)


def multi_resolution(pixels: np.ndarray, low_side: int) -> np.ndarray:
    """Down to ``low_side`` and back to the original size: a small camera's detail."""
    h, w = pixels.shape[:2]
    img = Image.fromarray(pixels).resize((low_side, low_side), Image.Resampling.BILINEAR)
    return np.asarray(img.resize((w, h), Image.Resampling.BILINEAR), np.uint8)


def field_augment(
    pixels: np.ndarray, rng: np.random.Generator, side: int, composite_share: float = 0.6
) -> np.ndarray:
    """One lab photo made to look like a field photo, uint8 (side, side, 3).

    With probability ``composite_share`` the leaf goes onto a generated background at 0.45–1.0×
    its size, anywhere its middle stays inside; then a random resized crop, perspective on half,
    white balance and exposure, blur on a third, a small camera on a quarter, noise, and JPEG
    re-compression at quality 30–95.
    """
    img = pixels
    mask = leaf_mask(img) if rng.uniform() < composite_share else None
    if mask is not None and mask.min() < 1.0:  # (no plain background found: leave it)
        back = background(str(rng.choice(BACKGROUNDS)), rng, max(img.shape[:2]))
        scale = float(rng.uniform(0.45, 1.0))
        centre = (float(rng.uniform(0.3, 0.7)), float(rng.uniform(0.3, 0.7)))
        img = composite(img, mask, back, scale, centre)
    img = random_resized_crop(img, rng, side, area=(0.5, 1.0))
    if rng.uniform() < 0.5:
        img = perspective(img, rng)
    gains = tuple(float(g) for g in rng.uniform(0.85, 1.15, 3))
    img = white_balance(img, (gains[0], gains[1], gains[2]), float(rng.uniform(0.7, 1.3)))
    if rng.uniform() < 1 / 3:
        img = blur(img, float(rng.uniform(0.5, 2.0)))
    if rng.uniform() < 0.25:
        img = multi_resolution(img, int(rng.integers(side // 3, side)))
    img = add_noise(img, rng, float(rng.uniform(0.0, 6.0)))
    return jpeg(img, int(rng.integers(30, 96)))
