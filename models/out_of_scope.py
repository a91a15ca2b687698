"""Out-of-scope photos: images that are no leaf of a known crop, which should come out uncertain.

Generated at evaluation time, never stored, the same for the same seed:

- synthetic images: noise (uniform and smooth), gradients, flat colours, stripes and
  checkerboards, in random colours, orientations and scales;
- background crops of field photos: the four corners of each field photo (a third of its
  shorter side), kept only when under :data:`MAX_GREEN_SHARE` of their pixels look like
  foliage, so that what is left is soil, sky, hands, sticks and blur rather than a leaf.

Leaves of held-out classes would be the best test but need a model trained without them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from agrifleet.inference.parts import HEALTHY, disease_name, grouping, part_thresholds
from agrifleet.inference.preprocess import fit_square, open_image

KINDS = ("noise", "smooth_noise", "gradient", "flat", "stripes", "checkerboard")
SIDE = 256
#: A corner crop with more foliage-coloured pixels than this share may show a leaf: skipped.
MAX_GREEN_SHARE = 0.25
CORNER_FRACTION = 1 / 3


def _colour(rng: np.random.Generator) -> np.ndarray:
    return rng.integers(0, 256, 3).astype(np.float64)


def synthetic(kind: str, rng: np.random.Generator, side: int = SIDE) -> np.ndarray:
    """One generated image of ``kind`` (see :data:`KINDS`): uint8 (side, side, 3)."""
    yy, xx = np.mgrid[0:side, 0:side] / side
    a, b = _colour(rng), _colour(rng)
    if kind == "noise":
        img = rng.integers(0, 256, (side, side, 3)).astype(np.float64)
    elif kind == "smooth_noise":
        cells = int(rng.integers(4, 17))
        small = rng.integers(0, 256, (cells, cells, 3)).astype(np.uint8)
        img = np.asarray(Image.fromarray(small).resize((side, side), Image.Resampling.BICUBIC),
                         np.float64)
    elif kind == "gradient":
        angle = rng.uniform(0, 2 * np.pi)
        t = (np.cos(angle) * xx + np.sin(angle) * yy)
        t = (t - t.min()) / max(float(np.ptp(t)), 1e-9)
        img = a + (b - a) * t[..., None]
    elif kind == "flat":
        img = np.broadcast_to(a, (side, side, 3))
    elif kind in ("stripes", "checkerboard"):
        period = rng.uniform(0.03, 0.3)
        angle = rng.uniform(0, np.pi)
        u = (np.cos(angle) * xx + np.sin(angle) * yy) / period
        if kind == "stripes":
            on = np.floor(u).astype(int) % 2 == 1
        else:
            v = (-np.sin(angle) * xx + np.cos(angle) * yy) / period
            on = (np.floor(u).astype(int) + np.floor(v).astype(int)) % 2 == 1
        img = np.where(on[..., None], a, b)
    else:
        raise ValueError(f"unknown kind {kind!r}; one of {', '.join(KINDS)}")
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def synthetic_set(
    per_kind: int, seed: int = 0, side: int = SIDE
) -> list[tuple[str, np.ndarray]]:
    """``per_kind`` images of every kind, as (kind, pixels); the same for the same seed."""
    rng = np.random.default_rng(seed)
    return [(kind, synthetic(kind, rng, side)) for kind in KINDS for _ in range(per_kind)]


def green_share(pixels: np.ndarray) -> float:
    """Share of pixels that look like foliage: green above red and blue, saturated enough."""
    rgb = pixels.astype(np.int16)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    top = rgb.max(axis=-1)
    saturation = (top - rgb.min(axis=-1)) / np.maximum(top, 1)
    return float(((g >= r) & (g >= b) & (saturation > 0.15) & (top > 40)).mean())


def corner_crops(image: Image.Image) -> list[np.ndarray]:
    """The four corners of a photo, each a square of a third of its shorter side."""
    pixels = np.asarray(image.convert("RGB"))
    h, w = pixels.shape[:2]
    side = max(1, int(min(h, w) * CORNER_FRACTION))
    return [pixels[:side, :side], pixels[:side, w - side:],
            pixels[h - side:, :side], pixels[h - side:, w - side:]]


def background_set(
    photos: Sequence[Path], limit: int, seed: int = 0
) -> list[tuple[str, np.ndarray]]:
    """Up to ``limit`` corner crops of ``photos`` with little foliage, seeded choice."""
    found: list[np.ndarray] = []
    for path in photos:
        found.extend(c for c in corner_crops(open_image(path))
                     if min(c.shape[:2]) >= 32 and green_share(c) <= MAX_GREEN_SHARE)
    rng = np.random.default_rng(seed)
    keep = sorted(rng.choice(len(found), min(limit, len(found)), replace=False).tolist())
    return [("field_background", found[i]) for i in keep]


def to_model(images: Sequence[tuple[str, np.ndarray]], size: int) -> np.ndarray:
    """Pixels (N, size, size, 3) through the device's scaling and centre crop."""
    out = np.empty((len(images), size, size, 3), np.uint8)
    for i, (_, pixels) in enumerate(images):
        out[i] = fit_square(Image.fromarray(pixels), size)
    return out


def out_of_scope_figures(
    probs: np.ndarray, kinds: Sequence[str], labels: Sequence[str],
    thresholds: dict[str, float] | None = None, disease_threshold: float | None = None,
) -> dict[str, Any]:
    """Share answered with a known class (above its threshold, so not "uncertain"), overall
    and per kind; the share of all that named a disease rather than healthy; the share whose
    disease alone was answered; and the classes answered most often."""
    pred = probs.argmax(axis=1)
    limits = np.array([(thresholds or {}).get(lb, 0.0) for lb in labels])
    answered = probs.max(axis=1) >= limits[pred]
    healthy = np.array([disease_name(lb) == HEALTHY for lb in labels])
    diseases = grouping(labels, "disease")
    sums = diseases.sums(probs)
    disease_limits = part_thresholds(diseases, labels, thresholds or {}, disease_threshold)
    disease_answered = sums.max(axis=1) >= disease_limits[sums.argmax(axis=1)]
    kind_arr = np.array(kinds)
    most = Counter(labels[int(i)] for i in pred[answered]).most_common(3)
    per_kind = {
        k: {"answered": round(float(answered[kind_arr == k].mean()), 4),
            "count": int((kind_arr == k).sum())}
        for k in dict.fromkeys(kinds)
    }
    return {
        "count": len(kinds),
        "answered": round(float(answered.mean()), 4) if len(kinds) else 0.0,
        "answered_as_disease": round(float((answered & ~healthy[pred]).mean()), 4)
        if len(kinds) else 0.0,
        "disease_answered": round(float(disease_answered.mean()), 4) if len(kinds) else 0.0,
        "most_answered": [{"label": lb, "count": n} for lb, n in most],
        "per_kind": per_kind,
    }
