"""Resolution and quality sweep: the same photos at other sizes and JPEG qualities.

A farm's photos come from other cameras: bigger or smaller than the 192 px training photos and
compressed harder by a cheap phone or a slow link. Each photo is resized (shorter side to
``size``, bicubic, as a camera or an app would) and re-encoded as JPEG at ``quality``, then goes
through the device's own preprocessing, exactly like a photo arriving at a node.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

from agrifleet.inference.preprocess import open_image, preprocess

SIZES = (128, 192, 256, 384, 512, 1024)
QUALITIES = (95, 75, 50)


def degrade(img: Image.Image, size: int, quality: int) -> bytes:
    """``img`` with its shorter side scaled to ``size`` (bicubic), as JPEG at ``quality``."""
    w, h = img.size
    scale = size / min(w, h)
    resized = img.convert("RGB").resize(
        (max(1, round(w * scale)), max(1, round(h * scale))), Image.Resampling.BICUBIC)
    buf = io.BytesIO()
    resized.save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def degraded_pixels(
    paths: Sequence[Path], size: int, quality: int, model_size: int, threads: int = 2
) -> np.ndarray:
    """uint8 (N, model_size, model_size, 3): each photo degraded, then preprocessed."""
    out = np.empty((len(paths), model_size, model_size, 3), np.uint8)

    def one(i: int) -> None:
        out[i] = preprocess(degrade(open_image(paths[i]), size, quality), model_size)

    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        list(pool.map(one, range(len(paths))))
    return out


def sweep(
    paths: Sequence[Path], truth: np.ndarray, predict: Callable[[np.ndarray], np.ndarray],
    model_size: int, sizes: Sequence[int] = SIZES, qualities: Sequence[int] = QUALITIES,
    threads: int = 2, on_step: Callable[[int, int, float], None] | None = None,
) -> dict[str, object]:
    """Top-1 for every (size, quality); ``predict`` maps pixels to probabilities; ``on_step``
    hears (size, quality, top-1) after each (the whole sweep takes minutes).

    ``top1[str(size)][str(quality)]``; ``spread`` is the best minus the worst size at each
    quality (the floor asks that no size is more than 1.5 points below the best).
    """
    top1: dict[str, dict[str, float]] = {}
    for size in sizes:
        row = top1.setdefault(str(size), {})
        for quality in qualities:
            pixels = degraded_pixels(paths, size, quality, model_size, threads)
            pred = predict(pixels).argmax(axis=1)
            row[str(quality)] = round(float((pred == truth).mean()), 4) if len(truth) else 0.0
            if on_step is not None:
                on_step(size, quality, row[str(quality)])
    spread = {
        str(q): round(max(top1[str(s)][str(q)] for s in sizes)
                      - min(top1[str(s)][str(q)] for s in sizes), 4)
        for q in qualities
    }
    best: dict[str, int] = {}
    for q in qualities:
        best[str(q)] = max(sizes, key=lambda s: top1[str(s)][str(q)])
    below_best = {
        str(s): {str(q): round(top1[str(best[str(q)])][str(q)] - top1[str(s)][str(q)], 4)
                 for q in qualities}
        for s in sizes
    }
    return {"sizes": list(sizes), "qualities": list(qualities), "count": len(paths),
            "top1": top1, "spread": spread, "best_size": best, "below_best": below_best}


def format_sweep(name: str, result: dict[str, object]) -> str:
    """The sweep as an aligned text table: one row per size, one column per quality."""
    qualities = result["qualities"]
    top1 = result["top1"]
    assert isinstance(qualities, list) and isinstance(top1, dict)
    below = result.get("below_best") or {}
    assert isinstance(below, dict)
    lines = [f"{name} sweep ({result['count']} photos), top-1 by size and JPEG quality "
             "(points below the best size at that quality):",
             f"{'px':>6} " + " ".join(f"{'q' + str(q):>14}" for q in qualities)]
    for size, row in top1.items():
        gaps = below.get(size, {})
        lines.append(f"{size:>6} " + " ".join(
            f"{row[str(q)]:>7.1%} (-{100 * gaps.get(str(q), 0.0):.1f})" for q in qualities))
    return "\n".join(lines)
