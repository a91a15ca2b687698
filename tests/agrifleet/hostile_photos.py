"""Files that attacked the fleet's memory (issue 21), and ordinary phone photos, as bytes."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
from PIL import Image


def encode(img: Image.Image, fmt: str, **kw: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def float_tiff() -> bytes:
    """The 380 KB 7999×7999 float TIFF that took the fleet to 2.6 GB."""
    return encode(Image.new("F", (7999, 7999), 0.5), "TIFF", compression="tiff_deflate")


def deep_png(side: int = 8000) -> bytes:
    """A 16-bit grey PNG of ``side``² pixels (8000: 142 KB that took it to 2 GB)."""
    return encode(Image.new("I;16", (side, side)), "PNG")


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(
        ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def bomb_png(width: int = 100_000, height: int = 100_000) -> bytes:
    """A PNG whose header claims ``width``×``height`` RGB pixels, with a few bytes of data."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    rows = zlib.compress(b"\x00" * (1 + 3 * 64) * 64, 9)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", rows)
            + _chunk(b"IEND", b""))


def bomb_jpeg(width: int = 65_000, height: int = 65_000) -> bytes:
    """A small JPEG whose frame header (SOF0) is rewritten to claim ``width``×``height``."""
    data = bytearray(phone_jpeg((64, 64)))
    sof = data.index(b"\xff\xc0")
    struct.pack_into(">HH", data, sof + 5, height, width)
    return bytes(data)


def truncated_jpeg() -> bytes:
    """The first half of a phone photo, as a dropped connection leaves it."""
    whole = phone_jpeg((1200, 900))
    return whole[: len(whole) // 2]


def text_named_jpg() -> bytes:
    """A text file someone named leaf.jpg."""
    return b"this is a shopping list, not a photo\n" * 20


def animated_png() -> bytes:
    frames = [Image.new("RGB", (64, 64), c) for c in ((200, 0, 0), (0, 200, 0))]
    return encode(frames[0], "PNG", save_all=True, append_images=frames[1:])


def leaf(size: tuple[int, int]) -> Image.Image:
    """A green leaf with brown spots on soil: photo-like content at any size (drawn at most
    1000 px wide, then scaled up)."""
    if size[0] > 1000:
        small = leaf((1000, max(1, size[1] * 1000 // size[0])))
        return small.resize(size, Image.Resampling.BILINEAR)
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    inside = ((xx - w / 2) / (w * 0.4)) ** 2 + ((yy - h / 2) / (h * 0.35)) ** 2 < 1
    pixels = np.empty((h, w, 3), np.uint8)
    pixels[:] = (110, 90, 60)
    pixels[inside] = (60, 140, 50)
    spots = ((xx % (w / 5) - w / 10) ** 2 + (yy % (h / 4) - h / 8) ** 2) < (min(w, h) / 30) ** 2
    pixels[inside & spots] = (120, 70, 30)
    return Image.fromarray(pixels)


def phone_jpeg(size: tuple[int, int] = (4000, 3000), quality: int = 85) -> bytes:
    return encode(leaf(size), "JPEG", quality=quality)


def phone_png(size: tuple[int, int] = (1170, 2532)) -> bytes:
    return encode(leaf(size), "PNG")


def phone_webp(size: tuple[int, int] = (1600, 1200)) -> bytes:
    return encode(leaf(size), "WEBP", quality=80)


HOSTILE = {
    "float_tiff": float_tiff,
    "deep_png": deep_png,
    "bomb_png": bomb_png,
    "bomb_jpeg": bomb_jpeg,
    "truncated_jpeg": truncated_jpeg,
    "text_named_jpg": text_named_jpg,
    "animated_png": animated_png,
}
