"""The one image preprocessing step shared by training and the device, so the two cannot drift.

An image (bytes, a path or an open file) is decoded with Pillow within the limits of
:mod:`agrifleet.images` (formats, pixel count, memory), turned upright by its EXIF
orientation, converted to RGB, scaled so its shorter side equals the model's input side and
centre-cropped to a square: photos of any size and aspect ratio give the same kind of tensor.
The result is a ``uint8`` array of shape ``(size, size, 3)``; :func:`to_input` then converts it to
the model's input dtype using the input tensor's quantisation parameters.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from agrifleet.images import (
    MIN_SIDE,
    ImageError,
    ImageSource,
    ImageTooLarge,
    UnsupportedImage,
    decode,
    decoded,
)

__all__ = ["MIN_SIDE", "RESAMPLE", "ImageError", "ImageSource", "ImageTooLarge",
           "UnsupportedImage", "fit_square", "open_image", "preprocess", "to_input"]

#: Resampling filter used for every resize; changing it changes the model's input.
RESAMPLE = Image.Resampling.BILINEAR


def open_image(source: ImageSource) -> Image.Image:
    """Decode an image at full size, upright by EXIF and in RGB, within the process's limits
    (:mod:`agrifleet.images`); raise ImageError if that fails."""
    return decode(source)


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
    with decoded(source, at_least=size) as img:
        return fit_square(img, size)


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
