"""Deterministic train/validation/test split of a photo folder; near-duplicates stay together.

The data folder has one sub-folder per class; each file is named by the first 16 hex digits of the
photo's SHA-256. A photo's split depends only on its *group*: photos of one class whose tiny
grey-scale difference hashes (dHash, 64 bits) are within :data:`NEAR_DUP_BITS` bits of each other
are joined (transitively) into one group, so near-identical shots of the same leaf cannot land in
both training and test. The group's key is its smallest file name; ``sha256(SALT + key)`` read as
a number in [0, 1) picks the split by the source's fractions. Adding photos never moves an old
photo unless it joins it to a new group. The split hash is the SHA-256 of the sorted
``split<TAB>class/file`` lines, recorded in the manifest.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

SALT = "agrifleet-split-v1:"
NEAR_DUP_BITS = 4
SPLITS = ("train", "val", "test")
#: Fractions (train, val, test) for the lab photos and for the field photos.
LAB_FRACTIONS = (0.70, 0.15, 0.15)
FIELD_FRACTIONS = (0.50, 0.15, 0.35)
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png"}


@dataclass(frozen=True)
class Photo:
    """One labelled photo on disk and the split it belongs to."""

    path: Path
    label: str
    split: str
    group: str

    @property
    def key(self) -> str:
        return f"{self.label}/{self.path.name}"


def list_photos(root: Path) -> dict[str, list[Path]]:
    """Class folder name → its image files, sorted; raise if the folder has no classes."""
    classes = {
        d.name: sorted(p for p in d.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        for d in sorted(root.iterdir())
        if d.is_dir() and not d.name.startswith(".")
    }
    classes = {k: v for k, v in classes.items() if v}
    if not classes:
        raise ValueError(f"{root}: no class folders with images (expected CLASS/IMAGE.jpg)")
    return classes


def dhash(path: Path) -> int:
    """64-bit difference hash of the photo (9x8 grey thumbnail, left<right per row)."""
    with Image.open(path) as img:
        small = np.asarray(img.convert("L").resize((9, 8), Image.Resampling.BILINEAR), np.int16)
    bits = (small[:, 1:] > small[:, :-1]).flatten()
    return int("".join("1" if b else "0" for b in bits), 2)


def near_duplicate_groups(paths: list[Path], max_bits: int = NEAR_DUP_BITS) -> list[str]:
    """For each path, the name of its group (smallest file name among its near-duplicates)."""
    n = len(paths)
    if n == 0:
        return []
    hashes = np.array([dhash(p) for p in paths], dtype=np.uint64)
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in range(n - 1):
        x = np.bitwise_xor(hashes[i + 1 :], hashes[i])
        dist = np.unpackbits(x.view(np.uint8).reshape(-1, 8), axis=1).sum(axis=1)
        for j in np.nonzero(dist <= max_bits)[0]:
            a, b = find(i), find(i + 1 + int(j))
            if a != b:
                parent[max(a, b)] = min(a, b)
    names = [p.name for p in paths]
    best: dict[int, str] = {}
    for i in range(n):
        r = find(i)
        best[r] = min(best.get(r, names[i]), names[i])
    return [best[find(i)] for i in range(n)]


def split_of(group: str, fractions: tuple[float, float, float]) -> str:
    """The split a group falls in: hash of the salted group key against the fractions."""
    digest = hashlib.sha256((SALT + group).encode()).digest()
    u = int.from_bytes(digest[:8], "big") / 2**64
    train, val, _ = fractions
    return "train" if u < train else "val" if u < train + val else "test"


def split_folder(
    root: Path, fractions: tuple[float, float, float] = LAB_FRACTIONS, *, dedup: bool = True,
    across_classes: bool = False,
) -> list[Photo]:
    """Every photo under ``root`` with its label, group and split.

    With ``across_classes`` near-duplicates are grouped over the whole folder, not class by
    class: a photo filed under two classes (scraped field sets have them) lands in one split.
    """
    listed = list_photos(root)
    if across_classes and dedup:
        flat = [(label, p) for label, paths in listed.items() for p in paths]
        groups = near_duplicate_groups([p for _, p in flat])
        return [Photo(path=p, label=label, split=split_of(g, fractions), group=g)
                for (label, p), g in zip(flat, groups, strict=True)]
    photos: list[Photo] = []
    for label, paths in listed.items():
        groups = near_duplicate_groups(paths) if dedup else [p.name for p in paths]
        photos.extend(
            Photo(path=p, label=label, split=split_of(g, fractions), group=g)
            for p, g in zip(paths, groups, strict=True)
        )
    return photos


def split_field(root: Path) -> list[Photo]:
    """Field photos with their splits: :data:`FIELD_FRACTIONS`, near-copies grouped across
    classes."""
    return split_folder(root, FIELD_FRACTIONS, across_classes=True)


def split_hash(photos: Iterable[Photo]) -> str:
    """SHA-256 over the sorted ``split<TAB>label/file`` lines: identifies the split exactly."""
    lines = sorted(f"{p.split}\t{p.key}" for p in photos)
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def write_split(photos: Iterable[Photo], path: Path) -> None:
    """Write the split as TSV lines ``split<TAB>label/file<TAB>group`` for the record."""
    rows = sorted(f"{p.split}\t{p.key}\t{p.group}" for p in photos)
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
