"""The one image preprocessing step shared by training and the device, so the two cannot drift.

An image (bytes, a path or an open file) is decoded with Pillow, turned upright by its EXIF
orientation, converted to RGB, scaled so its shorter side equals the model's input side and
centre-cropped to a square: photos of any size and aspect ratio give the same kind of tensor.
The result is a ``uint8`` array of shape ``(size, size, 3)``; :func:`to_input` then converts it to
the model's input dtype using the input tensor's quantisation parameters.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageOps

#: Refuse images larger than this many pixels (a 48-megapixel camera is fine, a zip bomb is not).
MAX_PIXELS = 64_000_000
#: Refuse images whose shorter side is below this: blown up to the model's input, a thumbnail
#: of a few dozen pixels shows no lesions, and the answer would be a confident guess.
MIN_SIDE = 32
#: Resampling filter used for every resize; changing it changes the model's input.
RESAMPLE = Image.Resampling.BILINEAR

ImageSource = bytes | str | Path | BinaryIO


class ImageError(ValueError):
    """The input is not a decodable image (corrupt, truncated, empty, too large or not an image)."""


def _describe(source: ImageSource) -> str:
    if isinstance(source, bytes | bytearray):
        return f"{len(source)} bytes"
    return str(getattr(source, "name", source))


def open_image(source: ImageSource) -> Image.Image:
    """Decode an image fully, upright by EXIF and in RGB; raise ImageError if that fails."""
    return _decode(source, None)


def _decode(source: ImageSource, draft_side: int | None) -> Image.Image:
    what = _describe(source)
    try:
        if isinstance(source, bytes | bytearray):
            if not source:
                raise ImageError("empty image data")
            stream: BinaryIO | str | Path = io.BytesIO(source)
        else:
            stream = source
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(stream) as img:
                if img.width * img.height > MAX_PIXELS:
                    raise ImageError(f"{what}: image is {img.width}x{img.height}, too large")
                if min(img.width, img.height) < MIN_SIDE:
                    raise ImageError(f"{what}: image is {img.width}x{img.height}, too small "
                                     f"(the shorter side must be at least {MIN_SIDE} px)")
                if draft_side is not None and img.format == "JPEG":
                    # Let the JPEG decoder shrink by a power of two while both sides stay ≥ side.
                    img.draft("RGB", (draft_side, draft_side))
                img.load()
                upright = ImageOps.exif_transpose(img)
                rgb = _eight_bit(upright).convert("RGB")
    except ImageError:
        raise
    except FileNotFoundError as exc:
        raise ImageError(f"{what}: no such file") from exc
    except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError,
            Image.DecompressionBombWarning) as exc:
        raise ImageError(f"{what}: not a readable image ({exc})") from exc
    if rgb.width < 1 or rgb.height < 1:
        raise ImageError(f"{what}: image has no pixels")
    return rgb


def _eight_bit(img: Image.Image) -> Image.Image:
    """16-bit and 32-bit grey images (scientific and thermal cameras) scaled to 0–255.

    Pillow's own conversion clips them instead, which turns a 16-bit photo white.
    """
    if img.mode not in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        return img
    values = np.asarray(img, dtype=np.float64)
    if img.mode == "F":
        top = 1.0 if values.max(initial=0.0) <= 1.0 else 255.0
    else:
        top = 65535.0 if values.max(initial=0.0) > 255 else 255.0
    return Image.fromarray(np.clip(values * (255.0 / top), 0, 255).round().astype(np.uint8))


def fit_square(img: Image.Image, size: int) -> np.ndarray:
    """Scale the shorter side to ``size``, centre-crop to ``size``×``size``; uint8 HxWx3."""
    w, h = img.size
    scale = size / min(w, h)
    new_w, new_h = max(size, round(w * scale)), max(size, round(h * scale))
    if (new_w, new_h) != (w, h):
        img = img.resize((new_w, new_h), RESAMPLE)
    left, top = (new_w - size) // 2, (new_h - size) // 2
    img = img.crop((left, top, left + size, top + size))
    return np.asarray(img, dtype=np.uint8).reshape(size, size, 3)


def preprocess(source: ImageSource, size: int) -> np.ndarray:
    """Decode ``source`` and return the model's view of it: uint8 array (size, size, 3)."""
    if size < 1:
        raise ValueError(f"size must be positive, not {size}")
    return fit_square(_decode(source, size), size)


def to_input(
    pixels: np.ndarray, dtype: np.dtype | type, scale: float = 0.0, zero_point: int = 0
) -> np.ndarray:
    """Turn uint8 pixels (N,H,W,3) into the input tensor's dtype using its quantisation.

    The model sees pixel values 0–255 (it rescales inside the graph). Float inputs get those
    values as float32; integer inputs get ``round(value / scale + zero_point)``, clipped.
    """
    dt = np.dtype(dtype)
    values = pixels.astype(np.float32)
    if dt.kind == "f":
        return values.astype(dt)
    if scale <= 0:
        raise ValueError(f"integer input {dt} needs a positive quantisation scale, got {scale}")
    info = np.iinfo(dt)
    q = np.round(values / scale + zero_point)
    return np.clip(q, info.min, info.max).astype(dt)
