"""Leaf crops come from the boxes file beside the field photos: each keeps its photo's class and
split, is cut where the box says (with a margin), and malformed or tiny boxes are skipped."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from agrifleet.models.leaf_crops import crop_pixels, load_crops, read_boxes
from agrifleet.models.split import Photo


def _field(tmp_path: Path) -> tuple[Path, list[Photo]]:
    root = tmp_path / "field"
    folder = root / "Tomato___Late_blight"
    folder.mkdir(parents=True)
    img = np.zeros((200, 400, 3), np.uint8)
    img[:, :] = (0, 0, 255)  # blue background
    img[50:150, 250:350] = (255, 0, 0)  # a red "leaf" in the right half
    Image.fromarray(img).save(folder / "a.png")
    photos = [Photo(folder / "a.png", "Tomato___Late_blight", "test", "a.png")]
    (root / "boxes.tsv").write_text(
        "file\tx_center\ty_center\twidth\theight\n"
        "Tomato___Late_blight/a.png\t0.75\t0.5\t0.25\t0.5\n"  # the red square
        "Tomato___Late_blight/a.png\t0.5\t0.5\t0.01\t0.01\n"  # 4 x 2 px: too small
        "Tomato___Late_blight/a.png\tnan-ish\t0.5\t0.2\t0.2\n"  # malformed
        "Tomato___Late_blight/a.png\t1.5\t0.5\t0.2\t0.2\n"  # outside the photo
        "Tomato___Early_blight/missing.png\t0.5\t0.5\t0.2\t0.2\n",  # not one of the photos
        encoding="utf-8")
    return root, photos


def test_boxes_keep_their_photos_class_and_split_and_bad_rows_are_skipped(tmp_path: Path):
    root, photos = _field(tmp_path)
    crops = read_boxes(root, photos)
    assert len(crops) == 2
    assert {c.label for c in crops} == {"Tomato___Late_blight"}
    assert {c.split for c in crops} == {"test"}


def test_a_crop_is_cut_where_its_box_is_and_a_tiny_one_is_dropped(tmp_path: Path):
    root, photos = _field(tmp_path)
    big, tiny = read_boxes(root, photos)
    pixels = crop_pixels(big, 64)
    assert pixels is not None and pixels.shape == (64, 64, 3)
    red = (pixels[..., 0] > 200) & (pixels[..., 2] < 60)
    assert red.mean() > 0.6, "mostly the red leaf, a margin of background around it"
    assert crop_pixels(tiny, 64) is None
    kept, stacked = load_crops([big, tiny], 32)
    assert kept == [big] and stacked.shape == (1, 32, 32, 3)


def test_no_boxes_file_means_no_crops(tmp_path: Path):
    root, photos = _field(tmp_path)
    (root / "boxes.tsv").unlink()
    assert read_boxes(root, photos) == []
