"""Outlier exposure: non-leaf images trained with a uniform target, so they come out uncertain.

A classifier trained only on leaves answers every photo with some leaf class, often confidently
(Hendrycks, Mazeika & Dietterich 2019, "Deep anomaly detection with outlier exposure"). Training
on generated non-leaf images whose target is the uniform distribution over the classes teaches
the network to spread its probability, so the class thresholds turn them into ``uncertain``.

The generators here are the training side and are kept apart from the evaluation set of
:mod:`models.out_of_scope`: different code and seeds, and the evaluation's checkerboards and the
background crops of *test* field photos are never trained on, so the card can report an
out-of-scope rate on kinds the model never saw (see ``held_out`` in its report).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from agrifleet.models.augment import background

#: Kinds of generated outliers; ``field_background`` (corner crops of training field photos)
#: is added by :func:`outlier_bank` when field photos are given.
KINDS = ("noise", "smooth_noise", "gradient", "flat", "stripes", "soil", "foliage", "shapes")


def _colour(rng: np.random.Generator) -> tuple[int, int, int]:
    r, g, b = rng.integers(0, 256, 3)
    return int(r), int(g), int(b)


def outlier(kind: str, rng: np.random.Generator, side: int) -> np.ndarray:
    """One generated non-leaf image of ``kind``, uint8 (side, side, 3)."""
    if kind == "noise":
        img = rng.normal(rng.uniform(40, 215, 3), rng.uniform(10, 90), (side, side, 3))
        return np.clip(img, 0, 255).astype(np.uint8)
    if kind == "smooth_noise":
        cells = int(rng.integers(3, 24))
        small = rng.integers(0, 256, (cells, cells, 3)).astype(np.uint8)
        resample = [Image.Resampling.BICUBIC, Image.Resampling.BILINEAR][int(rng.integers(2))]
        return np.asarray(Image.fromarray(small).resize((side, side), resample), np.uint8)
    if kind in ("gradient", "soil", "foliage"):
        return background(kind, rng, side)
    if kind == "flat":
        base = np.array(_colour(rng), np.float32)
        img = base + rng.normal(0, rng.uniform(0, 8), (side, side, 3))
        return np.clip(img, 0, 255).astype(np.uint8)
    if kind == "stripes":
        yy, xx = np.mgrid[0:side, 0:side] / side
        angle = rng.uniform(0, np.pi)
        u = (np.cos(angle) * xx + np.sin(angle) * yy) / rng.uniform(0.02, 0.35)
        wave = (np.sin(2 * np.pi * u) > rng.uniform(-0.5, 0.5))[..., None]
        a, b = np.array(_colour(rng)), np.array(_colour(rng))
        return np.where(wave, a, b).astype(np.uint8)
    if kind == "shapes":  # a wall, a tool, a hand-sized blob: random shapes on a random ground
        canvas = Image.new("RGB", (side, side), _colour(rng))
        draw = ImageDraw.Draw(canvas)
        for _ in range(int(rng.integers(1, 12))):
            x0, y0 = rng.uniform(-0.2, 1.0, 2) * side
            w, h = rng.uniform(0.05, 0.8, 2) * side
            box = (x0, y0, x0 + w, y0 + h)
            if rng.uniform() < 0.5:
                draw.ellipse(box, fill=_colour(rng))
            else:
                draw.rectangle(box, fill=_colour(rng))
        return np.asarray(canvas.filter(ImageFilter.GaussianBlur(float(rng.uniform(0, 3)))),
                          np.uint8)
    raise ValueError(f"unknown outlier kind {kind!r}; one of {', '.join(KINDS)}")


def outlier_bank(
    count: int, side: int, seed: int = 1, field_photos: Sequence[Path] = ()
) -> np.ndarray:
    """``count`` outliers, uint8 (count, side, side, 3): the kinds in turn, plus (when
    ``field_photos`` are given) up to a quarter of them background corners of those photos."""
    from agrifleet.models.out_of_scope import background_set

    rng = np.random.default_rng(seed)
    corners = background_set(field_photos, count // 4, seed) if field_photos else []
    images = [np.asarray(Image.fromarray(c).resize((side, side), Image.Resampling.BILINEAR))
              for _, c in corners]
    while len(images) < count:
        images.append(outlier(KINDS[len(images) % len(KINDS)], rng, side))
    return np.stack(images).astype(np.uint8)
