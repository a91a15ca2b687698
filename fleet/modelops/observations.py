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
from datetime import datetime
from pathlib import Path
from typing import Any

from PIL import Image
from sqlalchemy import JSON, BigInteger, Index
from sqlmodel import Field, SQLModel

from agrifleet.images import decoded
from agrifleet.inference.parts import disease_name
from fleet.columns import BigId, UtcDateTime, utcnow

MAX_SIDE = 2048
THUMB_SIDE = 320
JPEG_QUALITY = 85
FOLDER = "observations"


class ObservationBase(SQLModel):
    client_id: str = Field(max_length=36, unique=True,
                           description="The phone's UUID for this observation (resends)")
    farm_id: int | None = Field(default=None, sa_type=BigInteger)
    field_id: int | None = Field(default=None, sa_type=BigInteger)
    latitude: float | None = None
    longitude: float | None = None
    taken_at: datetime = Field(sa_type=UtcDateTime, description="When the photo was taken")
    received_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    taken_by: str = Field(max_length=160)
    label: str = Field(max_length=128, description='Class label, or "uncertain"')
    confidence: float
    uncertain: bool
    best: str = Field(max_length=128, description="The most likely class even when uncertain")
    top3: list[dict[str, Any]] = Field(sa_type=JSON, description="[{label, confidence}, …]")
    crop: dict[str, Any] = Field(sa_type=JSON, description="{name, confidence, uncertain, best}")
    disease: dict[str, Any] = Field(sa_type=JSON,
                                    description="{name, confidence, uncertain, best}")
    model_name: str = Field(max_length=128)
    model_version: str = Field(max_length=64)
    model_sha256: str = Field(max_length=64)
    inference_ms: float
    photo_bytes: int = Field(sa_type=BigInteger, description="Size of the stored JPEG")
    width: int
    height: int


class Observation(ObservationBase, table=True):
    __table_args__ = (Index("ix_observation_taken_at", "taken_at"),
                      Index("ix_observation_field", "field_id", "taken_at"))
    id: int | None = Field(default=None, primary_key=True, sa_type=BigId)
    photo_path: str = Field(max_length=256, description="Relative to data_dir/observations")


class ObservationPublic(ObservationBase):
    id: int
    advice_key: str | None = Field(description="The label to ask /api/v1/advice about: the "
                                   "answer, or its most likely class when only the crop is "
                                   "uncertain; null when the disease is uncertain too")
    photo_url: str
    thumbnail_url: str


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
