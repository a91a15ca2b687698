"""Scouting observations: a leaf photo from a phone, where and when it was taken, and the
model's answer; the photos under ``data_dir/observations/``.

The phone names each observation with a ``client_id`` (a UUID it makes when the photo is taken),
so a resend after a lost answer stores nothing new and returns the first answer. Photos are
decoded within the limits of :mod:`agrifleet.images` (which refuses what is not a phone's
photo, or too large, before decoding it), turned upright, scaled to at most
:data:`MAX_SIDE` pixels and re-encoded as JPEG, so nothing but pixels is kept (no EXIF, no
trailing bytes); a thumbnail of :data:`THUMB_SIDE` pixels is kept beside each.
"""

from __future__ import annotations

import io
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from agrifleet.fleet.modelops.tables import Observation, ObservationBase, ObservationPublic
from agrifleet.images import decoded
from agrifleet.inference.parts import disease_name

MAX_SIDE = 2048
THUMB_SIDE = 320
JPEG_QUALITY = 85
FOLDER = "observations"


def public(row: Observation) -> ObservationPublic:
    assert row.id is not None
    return ObservationPublic.model_validate(row, update={
        "advice_key": advice_key(row),
        "photo_url": f"/api/v1/observations/{row.id}/photo",
        "thumbnail_url": f"/api/v1/observations/{row.id}/thumbnail",
    })


def advice_key(row: ObservationBase) -> str | None:
    """The class whose advice fits the answer: the answer itself, or, when the disease is clear
    and only the crop is not ("late blight, crop uncertain"), the most likely class, which has
    that disease; None when the disease is uncertain."""
    if not row.uncertain:
        return row.label
    disease = row.disease or {}
    if disease.get("uncertain") is False and disease_name(row.best) == disease.get("name"):
        return row.best
    return None


@dataclass(frozen=True)
class Photo:
    """A re-encoded photo and its thumbnail, in memory until stored."""

    jpeg: bytes
    thumbnail: bytes
    width: int
    height: int


def _jpeg(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=JPEG_QUALITY, optimize=True)
    return out.getvalue()


def reencode(data: bytes) -> Photo:
    """Decode (reduced, within the limits of :mod:`agrifleet.images`), orient, scale down and
    re-encode; ImageError (UnsupportedImage, ImageTooLarge) when it cannot be."""
    with decoded(data, within=MAX_SIDE) as image:  # its memory counted until encoded
        thumb = image.copy()
        thumb.thumbnail((THUMB_SIDE, THUMB_SIDE), Image.Resampling.LANCZOS)
        return Photo(_jpeg(image), _jpeg(thumb), image.width, image.height)


class PhotoStore:
    """``data_dir/observations/<name>.jpg`` and ``<name>.thumb.jpg``."""

    def __init__(self, data_dir: Path) -> None:
        self.root = Path(data_dir) / FOLDER

    def save(self, photo: Photo) -> str:
        """Write both files (fsynced); the name to keep in the row."""
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)  # people's photos
        name = f"{secrets.token_hex(16)}.jpg"
        for path, data in ((self.root / name, photo.jpeg),
                           (self.thumb_path(name), photo.thumbnail)):
            tmp = path.with_suffix(".part")
            with open(tmp, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, path)
        return name

    def path(self, name: str) -> Path:
        return self.root / Path(name).name

    def thumb_path(self, name: str) -> Path:
        return self.root / (Path(name).stem + ".thumb.jpg")

    def remove(self, name: str) -> None:
        for path in (self.path(name), self.thumb_path(name)):
            path.unlink(missing_ok=True)
