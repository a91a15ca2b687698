"""Make a model folder's ``selftest/``: small images that are not copies of any photo, and the
model's answers on them.

The shipped self-test images are, per class, the pixel-wise median of that class's fixed sample
of lab test photos (``test_sample.txt``, ten per class), scaled down to a few dozen pixels: a
composite of ten leaves in different poses, not any one photo, so no photo of the data set
enters the repository. (The median keeps more of each class's colour and texture than the mean,
which blurs every class into a similar green blob: 15 of 31 medians are answered as their own
class against 10 of 31 means.)
Any other images can be used too (``--images``); they are re-encoded as small PNGs.
"""

from __future__ import annotations

import io
import logging
import re
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
from PIL import Image

from agrifleet.inference.classifier import Classifier
from agrifleet.inference.preprocess import fit_square, open_image, preprocess
from agrifleet.inference.selftest import (
    SELFTEST_DIR,
    TOLERANCE,
    Answers,
    record_answers,
    reference_classifier,
    unclear,
)
from agrifleet.manifest import read_manifest

log = logging.getLogger(__name__)

SAMPLE_NAME = "test_sample.txt"
#: Side of the stored images; the preprocessing scales them up to the model's input.
SIDE = 40
#: Other sides to try when an image's best two classes are too close to be a fair test.
OTHER_SIDES = (44, 36, 48, 32, 56, 64)
PHOTOS_PER_CLASS = 10
#: A median of fewer photos is too close to a copy of one of them.
MIN_PHOTOS = 3
MEDIAN_METHOD = ("per class, the pixel-wise median of the class's fixed sample of lab test photos "
               "(test_sample.txt), each fitted to the model's input size, scaled to "
               "{side} px (Lanczos; another of 32-64 px, then mirrored, then turned a quarter, "
               "where the answer at {side} px is not clear; one of the photos where the "
               "median is never clear), PNG")


def slug(label: str) -> str:
    """A file-name-safe form of a class label."""
    return re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")[:48] or "image"


def _png(img: Image.Image, side: int) -> bytes:
    small = img if img.size == (side, side) else img.resize((side, side),
                                                            Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    small.save(buf, "PNG", optimize=True)
    return buf.getvalue()


def class_photos(pkg_dir: Path, data_dir: Path, labels: Iterable[str]) -> dict[str, list[Path]]:
    """Per class, the photos to combine: the lab lines of test_sample.txt, else the first ten."""
    sample = pkg_dir / SAMPLE_NAME
    chosen: dict[str, list[Path]] = {}
    if sample.is_file():
        for line in sample.read_text(encoding="utf-8").splitlines():
            source, _, key = line.partition("\t")
            if source == "lab" and (data_dir / key).is_file():
                chosen.setdefault(key.split("/")[0], []).append(data_dir / key)
    for label in labels:
        if not chosen.get(label) and (data_dir / label).is_dir():
            files = sorted(p for p in (data_dir / label).iterdir() if p.is_file())
            chosen[label] = files[:PHOTOS_PER_CLASS]
    return {label: chosen[label] for label in labels if chosen.get(label)}


def median_image(photos: Iterable[Path], size: int) -> Image.Image:
    """The pixel-wise median of photos fitted to ``size``×``size`` (the model's own fitting)."""
    arrays = [fit_square(open_image(p), size).astype(np.float64) for p in photos]
    if len(arrays) < MIN_PHOTOS:
        raise ValueError("a median of fewer than 3 photos would be too close to a copy")
    return Image.fromarray(np.round(np.median(arrays, axis=0)).astype(np.uint8))


def _clear_png(classifier: Classifier, reference: Classifier | None, img: Image.Image,
               sides: Iterable[int], tolerance: float) -> bytes | None:
    """The first size (then mirrored, then turned) at which the image is a fair test (see
    ``unclear``). A model averaging mirrored views answers a mirrored image alike; turned a
    quarter, the leaf is seen anew."""
    mirrored = img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    turned = img.transpose(Image.Transpose.ROTATE_90)
    for candidate, side in [(im, s) for im in (img, mirrored, turned) for s in sides]:
        data = _png(candidate, side)
        pixels = preprocess(data, classifier.size)
        probs, _ = classifier.probabilities(pixels)
        ref = reference.probabilities(pixels)[0] if reference else None
        if unclear(probs, tolerance, ref) is None:
            return data
    return None


def write_selftest(pkg_dir: Path, images: Mapping[str, tuple[Image.Image, str | None]], *,
                   side: int = SIDE, tolerance: float = TOLERANCE, method: str = "",
                   runtime: str | None = None,
                   fallbacks: Mapping[str, list[Image.Image]] | None = None) -> Answers:
    """Replace ``selftest/`` with these images (name → (image, class it shows)) and answers;
    an image whose answer is never clear is replaced by the first clear one of its
    ``fallbacks``."""
    pkg_dir = Path(pkg_dir)
    classifier = Classifier.load(pkg_dir, threads=2, runtime=runtime)
    reference = reference_classifier(classifier)
    chosen: dict[str, bytes] = {}
    made_from: dict[str, str] = {}
    for name, (img, label) in images.items():
        sides = (side, *(s for s in OTHER_SIDES if s != side))
        data = _clear_png(classifier, reference, img, sides, tolerance)
        for other in (fallbacks or {}).get(name, []) if data is None else []:
            data = _clear_png(classifier, reference, other, sides, tolerance)
            if data is not None:
                log.info("self-test image %s: the median is never clear, one photo is", name)
                break
        if data is None:
            log.warning("self-test image %s skipped: the model's answer is never clear", name)
            continue
        chosen[name] = data
        if label:
            made_from[name] = label
    folder = pkg_dir / SELFTEST_DIR
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir()
    for name, data in chosen.items():
        (folder / name).write_bytes(data)
    return record_answers(pkg_dir, runtime=runtime, tolerance=tolerance, made_from=made_from,
                          method=method)


def shipped_kind_selftest(pkg_dir: Path, data_dir: Path, runtime: str | None = None) -> Answers:
    """The self-test a model of this kind ships with: sample photos for a pretrained backbone
    (``training.settings.backbone``), class medians for the networks trained from scratch."""
    if read_manifest(pkg_dir).training.get("settings", {}).get("backbone"):
        return sample_photo_selftest(pkg_dir, data_dir, runtime=runtime)
    return class_median_selftest(pkg_dir, data_dir, runtime=runtime)


def class_median_selftest(pkg_dir: Path, data_dir: Path, *, side: int = SIDE,
                          runtime: str | None = None) -> Answers:
    """The shipped kind of self-test: one median image per class of ``data_dir``'s photos."""
    manifest = read_manifest(pkg_dir)
    photos = class_photos(pkg_dir, data_dir, manifest.labels)
    if not photos:
        raise ValueError(f"{data_dir}: no photos in folders named after the model's classes")
    images: dict[str, tuple[Image.Image, str | None]] = {}
    fallbacks: dict[str, list[Image.Image]] = {}
    for i, label in enumerate(manifest.labels):
        if len(photos.get(label, [])) < MIN_PHOTOS:
            log.warning("no self-test image for %s: fewer than %d photos", label, MIN_PHOTOS)
            continue
        name = f"{i:02d}-{slug(label)}.png"
        images[name] = (median_image(photos[label], manifest.size), label)
        fallbacks[name] = [Image.fromarray(fit_square(open_image(p), manifest.size))
                           for p in photos[label]]
    return write_selftest(pkg_dir, images, side=side, runtime=runtime,
                          method=MEDIAN_METHOD.format(side=side), fallbacks=fallbacks)


#: Side of the sample-photo self-test: a pretrained network at 224 px names 64-px photos.
PHOTO_SIDE = 64
PHOTO_METHOD = ("per class, the first photo of the class's fixed sample of lab test photos "
                "(test_sample.txt) that the model names right at {side} px, fitted to {side} "
                "px, PNG (a pixel-wise median of the photos, the earlier versions' kind, is too "
                "blurred for a pretrained network to name)")


def sample_photo_selftest(pkg_dir: Path, data_dir: Path, *, side: int = PHOTO_SIDE,
                          runtime: str | None = None) -> Answers:
    """The self-test of a pretrained model (3.0.0): one real photo per class that it names."""
    manifest = read_manifest(pkg_dir)
    classifier = Classifier.load(pkg_dir, threads=2, runtime=runtime)
    images: dict[str, tuple[Image.Image, str | None]] = {}
    for i, (label, photos) in enumerate(class_photos(pkg_dir, data_dir,
                                                     manifest.labels).items()):
        for photo in photos:
            img = Image.fromarray(fit_square(open_image(photo), side))
            probs, _ = classifier.probabilities(preprocess(_png(img, side), classifier.size))
            if manifest.labels[int(probs.argmax())] == label and float(probs.max()) > 0.5:
                images[f"{manifest.labels.index(label):02d}-{slug(label)}.png"] = (img, label)
                break
        else:
            log.warning("no self-test photo for %s: the model names none of them (%d)", label, i)
    return write_selftest(pkg_dir, images, side=side, runtime=runtime,
                          method=PHOTO_METHOD.format(side=side))


def images_selftest(pkg_dir: Path, files: Iterable[Path], *, side: int = SIDE,
                    runtime: str | None = None) -> Answers:
    """A self-test from given image files (a parent folder named after a class labels it)."""
    labels = set(read_manifest(pkg_dir).labels)
    images: dict[str, tuple[Image.Image, str | None]] = {}
    for i, path in enumerate(files):
        img = Image.fromarray(fit_square(open_image(path), side))
        label = path.parent.name if path.parent.name in labels else None
        images[f"{i:02d}-{slug(path.stem)}.png"] = (img, label)
    return write_selftest(pkg_dir, images, side=side, runtime=runtime,
                          method=f"given images, fitted to {side} px, PNG")
