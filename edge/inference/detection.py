"""Turn a prediction into the body of a contract ``Detection`` item, with a capped thumbnail."""

from __future__ import annotations

import base64
import hashlib
import io
from typing import Any

from PIL import Image

from agrifleet.contract import MAX_THUMBNAIL_B64
from agrifleet.images import ImageSource, decode
from agrifleet.inference.classifier import PartAnswer, Prediction
from agrifleet.manifest import Manifest

#: Thumbnail sides and JPEG qualities tried, largest first, until the file fits the cap.
THUMB_SIDES = (320, 256, 192, 128, 96, 64)
THUMB_QUALITIES = (80, 65, 50, 35)


def thumbnail_jpeg(source: ImageSource, max_bytes: int) -> bytes | None:
    """A JPEG of the photo no larger than ``max_bytes`` (None if even the smallest is larger)."""
    image = decode(source, within=THUMB_SIDES[0])
    for side in THUMB_SIDES:
        small = image.copy()
        small.thumbnail((side, side), Image.Resampling.BILINEAR)
        for quality in THUMB_QUALITIES:
            buf = io.BytesIO()
            small.save(buf, "JPEG", quality=quality, optimize=True)
            if buf.tell() <= max_bytes:
                return buf.getvalue()
    return None


def detection_body(
    prediction: Prediction,
    manifest: Manifest,
    image: bytes,
    camera: str,
    thumbnail_max_bytes: int,
) -> dict[str, Any]:
    """Fields of a Detection item (seq, ts and uptime are added by the outbox)."""
    thumbnail = None
    if not prediction.healthy:
        cap = min(thumbnail_max_bytes, MAX_THUMBNAIL_B64 * 3 // 4)
        jpeg = thumbnail_jpeg(image, cap)
        if jpeg is not None:
            thumbnail = base64.b64encode(jpeg).decode("ascii")
    return {
        "camera": camera,
        "label": prediction.label,
        "confidence": round(prediction.confidence, 4),
        "uncertain": prediction.uncertain,
        "top3": [{"label": lb, "confidence": round(c, 4)} for lb, c in prediction.top3],
        "model": {"name": manifest.name, "version": manifest.version, "sha256": manifest.sha256},
        "inference_ms": round(prediction.inference_ms, 2),
        "image_sha256": hashlib.sha256(image).hexdigest(),
        "thumbnail_jpeg_b64": thumbnail,
        "crop": _part(prediction.crop),
        "disease": _part(prediction.disease),
    }


def _part(answer: PartAnswer) -> dict[str, Any] | None:
    """The contract's crop or disease of a detection; None when the model gave no such part."""
    if not answer.best:
        return None
    return {"name": answer.name, "confidence": round(min(max(answer.confidence, 0.0), 1.0), 4),
            "uncertain": answer.uncertain}
