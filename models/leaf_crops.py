"""Single-leaf crops of field photos, cut by the leaf boxes PlantDoc's authors drew.

``field/boxes.tsv`` holds one row per leaf: the photo (relative to the field folder), then the
box's centre and size normalised to 0-1 (YOLO style). A crop keeps its photo's class and split,
so a leaf of a test photo is never trained on. Crops are both training material (a farmer
often photographs one leaf) and a second field test set.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from agrifleet.inference.preprocess import preprocess
from agrifleet.models.split import Photo

BOXES_NAME = "boxes.tsv"
#: Context kept around a box, as a share of its size on each side.
MARGIN = 0.1
#: Boxes smaller than this on a side are skipped (the device refuses such images too).
MIN_SIDE = 32


@dataclass(frozen=True)
class LeafCrop:
    """One leaf box of a field photo."""

    photo: Photo
    box: tuple[float, float, float, float]  #: x_center, y_center, width, height (0-1)

    @property
    def label(self) -> str:
        return self.photo.label

    @property
    def split(self) -> str:
        return self.photo.split


def read_boxes(field_dir: Path, photos: Sequence[Photo]) -> list[LeafCrop]:
    """The leaf boxes of ``photos`` listed in ``field_dir/boxes.tsv`` (none if it is absent)."""
    path = field_dir / BOXES_NAME
    if not path.is_file():
        return []
    by_key = {p.key: p for p in photos}
    crops = []
    with path.open(encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            photo = by_key.get(row["file"])
            if photo is None:
                continue
            try:
                box = tuple(float(row[k]) for k in ("x_center", "y_center", "width", "height"))
            except (TypeError, ValueError):
                continue
            if all(0.0 <= v <= 1.0 for v in box) and box[2] > 0 and box[3] > 0:
                crops.append(LeafCrop(photo, (box[0], box[1], box[2], box[3])))
    return crops


def crop_pixels(crop: LeafCrop, size: int) -> np.ndarray | None:
    """The leaf cut out with a margin, through the device's preprocessing; None if too small."""
    with Image.open(crop.photo.path) as opened:
        img = opened.convert("RGB")
        w, h = img.size
        xc, yc, bw, bh = crop.box
        half_w = bw * w * (0.5 + MARGIN)
        half_h = bh * h * (0.5 + MARGIN)
        left, top = max(0, int(xc * w - half_w)), max(0, int(yc * h - half_h))
        right, bottom = min(w, int(xc * w + half_w)), min(h, int(yc * h + half_h))
        if min(right - left, bottom - top) < MIN_SIDE:
            return None
        buf = io.BytesIO()
        img.crop((left, top, right, bottom)).save(buf, "PNG")
    return preprocess(buf.getvalue(), size)


def load_crops(crops: Sequence[LeafCrop], size: int) -> tuple[list[LeafCrop], np.ndarray]:
    """The crops big enough to use and their pixels, uint8 (N, size, size, 3)."""
    kept, pixels = [], []
    for crop in crops:
        px = crop_pixels(crop, size)
        if px is not None:
            kept.append(crop)
            pixels.append(px)
    return kept, (np.stack(pixels) if pixels else np.zeros((0, size, size, 3), np.uint8))
