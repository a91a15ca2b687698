"""The data split is deterministic, keeps near-duplicate photos together, and has a hash."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
from PIL import Image

from agrifleet.models.split import (
    near_duplicate_groups,
    split_folder,
    split_hash,
    split_of,
)


def _photo(path: Path, seed: int, shift: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 255, (12, 12, 3), dtype=np.uint8)
    img = Image.fromarray(base).resize((96, 96), Image.Resampling.NEAREST)
    arr = np.asarray(img).astype(np.int16) + shift
    Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8)).save(path, "JPEG", quality=95)
    return path


def _dataset(root: Path, classes: int = 2, per_class: int = 30) -> Path:
    for c in range(classes):
        folder = root / f"Crop___disease_{c}"
        folder.mkdir(parents=True)
        for i in range(per_class):
            name = hashlib.sha256(f"{c}-{i}".encode()).hexdigest()[:16]
            _photo(folder / f"{name}.jpg", seed=c * 1000 + i)
    return root


def test_split_is_deterministic_and_disjoint(tmp_path: Path) -> None:
    root = _dataset(tmp_path / "data")
    first = split_folder(root)
    again = split_folder(root)
    assert [(p.key, p.split) for p in first] == [(p.key, p.split) for p in again]
    assert split_hash(first) == split_hash(reversed(again))
    assert len({p.key for p in first}) == len(first) == 60
    assert {p.split for p in first} == {"train", "val", "test"}


def test_near_duplicates_land_in_the_same_group_and_split(tmp_path: Path) -> None:
    a = _photo(tmp_path / "aaaa.jpg", seed=1)
    b = _photo(tmp_path / "bbbb.jpg", seed=1, shift=12)  # same leaf, brighter exposure
    c = _photo(tmp_path / "cccc.jpg", seed=2)
    groups = near_duplicate_groups([a, b, c])
    assert groups == ["aaaa.jpg", "aaaa.jpg", "cccc.jpg"]


def test_split_depends_only_on_the_group_key() -> None:
    assert split_of("0123456789abcdef", (0.7, 0.15, 0.15)) == split_of(
        "0123456789abcdef", (0.7, 0.15, 0.15))
    names = [hashlib.sha256(str(i).encode()).hexdigest()[:16] for i in range(4000)]
    shares = {s: sum(split_of(n, (0.7, 0.15, 0.15)) == s for n in names) / 4000
              for s in ("train", "val", "test")}
    assert abs(shares["train"] - 0.7) < 0.03 and abs(shares["test"] - 0.15) < 0.03


def test_adding_a_photo_moves_no_other_photo(tmp_path: Path) -> None:
    root = _dataset(tmp_path / "data", classes=1)
    before = {p.key: p.split for p in split_folder(root)}
    _photo(root / "Crop___disease_0" / "ffffffffffffffff.jpg", seed=999)
    after = {p.key: p.split for p in split_folder(root)}
    assert {k: after[k] for k in before} == before


def test_field_near_copies_filed_under_two_classes_land_in_one_split(tmp_path: Path) -> None:
    from agrifleet.models.split import split_field

    root = _dataset(tmp_path / "field", classes=2, per_class=12)
    first = sorted((root / "Crop___disease_0").iterdir())
    # the same photo, re-encoded a touch brighter, filed under the other class too
    for i, src in enumerate(first):
        _photo(root / "Crop___disease_1" / f"copy{i:012d}.jpg", seed=int(i), shift=2)
        _photo(src, seed=int(i))
    photos = {(p.label, p.path.name): p for p in split_field(root)}
    for i, src in enumerate(first):
        original = photos[("Crop___disease_0", src.name)]
        copy = photos[("Crop___disease_1", f"copy{i:012d}.jpg")]
        assert copy.group == original.group
        assert copy.split == original.split
    per_class = {(p.label, p.path.name): p.group for p in split_folder(root)}
    assert any(per_class[("Crop___disease_1", f"copy{i:012d}.jpg")]
               != per_class[("Crop___disease_0", src.name)] for i, src in enumerate(first)), \
        "per class, the copies would have been grouped apart"
