"""What the composite augmentation needs, made once before training: leaf masks and backgrounds.

The leaf is cut from its plain lab background by a colour/saturation mask (:func:`leaf_mask`);
generated backgrounds (soil-like noise, out-of-focus foliage, gradients; :func:`background`)
take its place (and give the outlier bank its soil and foliage, :mod:`models.outliers`). Both are
numpy/Pillow; the augmentation itself runs in TensorFlow on whole batches
(:mod:`models.augment_batch`).
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

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
    """Leaf everywhere the background cannot reach from the border (dark lesions stay leaf).

    The border's background pixels grow through background pixels (4-neighbours) until they
    stop; numpy on whole rows at a time, some 20 times faster than Pillow's pixel-by-pixel
    flood fill, which made masking the training photos take minutes.
    """
    free = np.asarray(mask, np.uint8) < 128
    reached = np.zeros_like(free)
    for edge in (np.s_[0, :], np.s_[-1, :], np.s_[:, 0], np.s_[:, -1]):
        reached[edge] = free[edge]
    while True:
        grown = reached.copy()
        grown[1:] |= reached[:-1]
        grown[:-1] |= reached[1:]
        grown[:, 1:] |= reached[:, :-1]
        grown[:, :-1] |= reached[:, 1:]
        grown &= free
        if np.array_equal(grown, reached):
            break
        reached = grown
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
