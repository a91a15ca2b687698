"""Decode a photo within limits: format, mode and size are checked from the file's header before
any pixel is decoded, a smaller copy is decoded when that is all the caller needs, and only a
bounded amount of decoded pixels exists at once.

Every path that decodes an image (scouting uploads, the self-test of a model package, the
agent's cameras and their detection thumbnails) goes through :func:`decode`. Without these
limits a 380 KB file holding a 7999×7999 float image takes 2.6 GB once decoded and converted.

The rules (:class:`ImageLimits`, set for the process with :func:`configure`):

- Formats: what a phone camera makes, JPEG (and MPO, a JPEG with extra frames), PNG, WebP, and
  HEIC/HEIF when the optional ``pillow-heif`` package is installed. Anything else is
  :class:`UnsupportedImage`, as are damaged files, animations and float images.
- Pixel count: more than ``max_pixels`` in the header is :class:`ImageTooLarge`.
- Reduced decoding: a JPEG is decoded at 1/2, 1/4 or 1/8 scale when the caller needs no more.
- Memory: each decode reserves what its pixels take from ``decode_memory_mb`` (waiting for its
  turn when others hold it, refused as too large when it alone would need more), and at most
  ``concurrent_decodes`` decode at once.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import io
import re
import struct
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, UnidentifiedImageError
from pydantic import BaseModel, ConfigDict, Field

try:  # optional: HEIC photos from iPhones, only where a maintained reader is installed
    from pillow_heif import register_heif_opener  # type: ignore[import-not-found,unused-ignore]
except ImportError:  # pragma: no cover - depends on the machine
    HEIF_FORMATS: tuple[str, ...] = ()
else:  # pragma: no cover - depends on the machine
    register_heif_opener()
    HEIF_FORMATS = ("HEIF",)

ImageSource = bytes | str | Path | BinaryIO

#: The formats a phone camera writes, as Pillow names them.
PHONE_FORMATS: tuple[str, ...] = ("JPEG", "MPO", "PNG", "WEBP", *HEIF_FORMATS)
#: 50 megapixels: the largest common phone camera (48 and 50 MP modes) still fits.
MAX_PIXELS = 50_000_000
#: Decoded pixels of all photos being decoded at once stay within this many megabytes.
DECODE_MEMORY_MB = 192
#: At most this many photos are decoded at once.
CONCURRENT_DECODES = 2
#: Refuse images whose shorter side is below this: blown up to the model's input, a thumbnail
#: of a few dozen pixels shows no lesions, and the answer would be a confident guess.
MIN_SIDE = 32
#: Modes Pillow gives the phone formats; 16-bit grey is scaled to 8 bits after decoding.
EIGHT_BIT_MODES = frozenset({"1", "L", "LA", "La", "P", "PA", "RGB", "RGBA", "RGBa", "RGBX",
                             "CMYK", "YCbCr"})
DEEP_MODES = frozenset({"I", "I;16", "I;16B", "I;16L", "I;16N"})
#: Formats whose frames beyond the first are part of one photo (a phone's depth map or preview).
STILL_WITH_FRAMES = frozenset({"MPO", "HEIF"})
MB = 1024 * 1024


class ImageError(ValueError):
    """The input is not a decodable image (corrupt, truncated, empty, too large or not an image)."""


class UnsupportedImage(ImageError):
    """Not a photo in a format and mode the fleet reads (answered 415)."""


class ImageTooLarge(ImageError):
    """More pixels than the limits allow (answered 413)."""


class ImageLimits(BaseModel):
    """What a decoded photo may be and cost."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    formats: frozenset[str] = Field(default=frozenset(PHONE_FORMATS), min_length=1,
                                    title="Formats accepted, as Pillow names them")
    max_pixels: int = Field(default=MAX_PIXELS, ge=MIN_SIDE * MIN_SIDE, le=500_000_000,
                            title="Largest width × height accepted")
    decode_memory_mb: int = Field(default=DECODE_MEMORY_MB, ge=16, le=65536,
                                  title="Megabytes the photos being decoded at once may take")
    concurrent_decodes: int = Field(default=CONCURRENT_DECODES, ge=1, le=64,
                                    title="Photos decoded at once; others wait their turn")


class DecodeGate:
    """A semaphore weighted by bytes: decodes hold their pixels' share of a budget, and a slot."""

    def __init__(self, budget_bytes: int, slots: int) -> None:
        self.budget = budget_bytes
        self.slots = slots
        self._used = 0
        self._running = 0
        self._changed = threading.Condition()

    @contextmanager
    def hold(self, need: int) -> Iterator[None]:
        """Wait until ``need`` bytes and a slot are free, keep them for the block."""
        need = max(1, need)
        if need > self.budget:
            raise ImageTooLarge(f"decoding it would take {need // MB + 1} MB, more than the "
                                f"{self.budget // MB} MB photos may use")
        with self._changed:
            self._changed.wait_for(lambda: self._running < self.slots
                                   and self._used + need <= self.budget)
            self._used += need
            self._running += 1
        try:
            yield
        finally:
            with self._changed:
                self._used -= need
                self._running -= 1
                self._changed.notify_all()

    @property
    def in_use(self) -> int:
        """Bytes held now (for tests and metrics)."""
        with self._changed:
            return self._used


class Decoder:
    """Limits and the gate that enforces them for one process."""

    def __init__(self, limits: ImageLimits | None = None) -> None:
        self.limits = limits or ImageLimits()
        self.gate = DecodeGate(self.limits.decode_memory_mb * MB, self.limits.concurrent_decodes)


_decoder = Decoder()
_decoder_lock = threading.Lock()


def configure(limits: ImageLimits) -> Decoder:
    """Use ``limits`` for every decode in this process from now on (the composition roots call
    this with their settings), and hand large freed buffers back to the system; the decoder."""
    global _decoder
    return_large_buffers()
    with _decoder_lock:
        if limits != _decoder.limits:
            _decoder = Decoder(limits)
        return _decoder


#: glibc's mallopt parameters, and the size from which a buffer gets its own mapping.
_M_MMAP_THRESHOLD = -3
_MMAP_FROM = 4 * MB


def return_large_buffers() -> bool:
    """Have glibc give every buffer of 4 MB or more its own mapping, unmapped when freed.

    By default glibc raises that size after the first large free, up to 32 MB: decoded photos
    then come from each thread's heap and stay resident after they are freed (eight upload
    threads kept about 1 GB). True if set (a glibc system), False elsewhere.
    """
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return bool(libc.mallopt(_M_MMAP_THRESHOLD, _MMAP_FROM))
    except (OSError, AttributeError):  # not glibc (musl, macOS): its own policy applies
        return False


def current() -> Decoder:
    """The decoder this process uses."""
    return _decoder


def describe(source: ImageSource) -> str:
    """How a message names the image: its size for bytes, its file name for a path."""
    if isinstance(source, bytes | bytearray):
        return f"the photo ({len(source)} bytes)"
    return str(getattr(source, "name", source))


_OBJECT_REPR = re.compile(r"<[^<>]* at 0x[0-9a-fA-F]+>")


def _clean(exc: BaseException) -> str:
    """Pillow's message without Python object reprs ("<_io.BytesIO object at 0x…>")."""
    return _OBJECT_REPR.sub("the file", str(exc)) or type(exc).__name__


def bytes_per_pixel(mode: str) -> int:
    """What Pillow's memory holds per pixel in ``mode``."""
    if mode in ("1", "L", "P"):
        return 1
    if mode.startswith("I;16"):
        return 2
    return 4


def decode(source: ImageSource, *, at_least: int | None = None, within: int | None = None,
           decoder: Decoder | None = None) -> Image.Image:
    """Decode ``source`` within the limits: upright by EXIF, 8-bit RGB (see :func:`decoded`).

    For a caller that keeps the image: its memory is no longer counted once this returns.
    """
    with decoded(source, at_least=at_least, within=within, decoder=decoder) as image:
        return image


@contextmanager
def decoded(source: ImageSource, *, at_least: int | None = None, within: int | None = None,
            decoder: Decoder | None = None) -> Iterator[Image.Image]:
    """Decode ``source`` within the limits: upright by EXIF, 8-bit RGB, counted against the
    decode memory until the block ends (so what the caller makes of it is counted too).

    ``at_least``: the caller needs both sides at least this long (a JPEG is decoded at the
    smallest scale that keeps them so; other formats at full size). ``within``: the caller wants
    the photo scaled to fit a square of this side (a JPEG is decoded reduced, the result is
    scaled down with Lanczos). ImageError (UnsupportedImage, ImageTooLarge) if it cannot be.
    """
    decoder = decoder or _decoder
    limits = decoder.limits
    what = describe(source)
    with _refusals(what, limits):
        img = _open(source, limits)
    try:
        with _refusals(what, limits):
            _check_header(img, what, limits)
            _draft(img, at_least, within)
            need = _memory_need(img, within)
        with decoder.gate.hold(need):
            with _refusals(what, limits):
                img.load()
                rgb = _upright_rgb(img, within, _orientation(img))
            img.close()  # the full-size pixels go now, the caller works on its copy
            if rgb.width < 1 or rgb.height < 1:
                raise UnsupportedImage(f"{what}: image has no pixels")
            yield rgb
    finally:
        img.close()


def _open(source: ImageSource, limits: ImageLimits) -> Image.Image:
    """Open lazily (the header only), with only the allowed formats' readers."""
    if isinstance(source, bytes | bytearray):
        if not source:
            raise UnsupportedImage("empty image data")
        stream: BinaryIO | str | Path = io.BytesIO(source)
    else:
        stream = source
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        return Image.open(stream, formats=_openers(limits))


@contextmanager
def _refusals(what: str, limits: ImageLimits) -> Iterator[None]:
    """Pillow's errors as ImageError with a plain message (no Python object in it)."""
    try:
        yield
    except ImageError:
        raise
    except FileNotFoundError as exc:
        raise ImageError(f"{what}: no such file") from exc
    except UnidentifiedImageError as exc:
        raise UnsupportedImage(f"{what}: not a photo the fleet can read (it reads "
                               f"{_names(limits)})") from exc
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageTooLarge(f"{what}: image is too large ({_clean(exc)})") from exc
    except (OSError, SyntaxError, ValueError, EOFError, MemoryError) as exc:
        raise UnsupportedImage(f"{what}: damaged or truncated ({_clean(exc)})") from exc


def _openers(limits: ImageLimits) -> list[str]:
    """The Pillow plugins to try (an MPO is opened by the JPEG plugin)."""
    return sorted({"JPEG" if f == "MPO" else f for f in limits.formats})


def _names(limits: ImageLimits) -> str:
    shown = sorted({"JPEG" if f == "MPO" else f for f in limits.formats})
    return ", ".join(shown)


def _check_header(img: Image.Image, what: str, limits: ImageLimits) -> None:
    """Refuse from the header alone: format, mode, frames, pixel count, too small."""
    if img.format not in limits.formats:  # an MPO where only JPEG is allowed
        raise UnsupportedImage(f"{what}: {img.format} is not a format the fleet reads")
    if img.mode not in EIGHT_BIT_MODES and img.mode not in DEEP_MODES:
        raise UnsupportedImage(f"{what}: {img.format} in mode {img.mode} is not a photo "
                               "(float and other scientific modes are refused)")
    frames = int(getattr(img, "n_frames", 1))
    if frames > 1 and img.format not in STILL_WITH_FRAMES:
        raise UnsupportedImage(f"{what}: an animation of {frames} frames, not a photo")
    w, h = img.size
    if w * h > limits.max_pixels:
        raise ImageTooLarge(f"{what}: image is {w}x{h}, too large (at most "
                            f"{limits.max_pixels / 1e6:g} megapixels)")
    if min(w, h) < MIN_SIDE:
        raise ImageError(f"{what}: image is {w}x{h}, too small "
                         f"(the shorter side must be at least {MIN_SIDE} px)")


def _draft(img: Image.Image, at_least: int | None, within: int | None) -> None:
    """Let the JPEG decoder shrink by a power of two while the caller still gets enough."""
    if img.format not in ("JPEG", "MPO"):
        return
    if at_least is not None:
        img.draft("RGB", (at_least, at_least))
    elif within is not None:
        w, h = img.size
        scale = within / max(w, h)
        if scale < 1:
            img.draft("RGB", (max(1, round(w * scale)), max(1, round(h * scale))))


#: Formats whose decoder fills a buffer of its own first (4 bytes a pixel), then copies it.
BUFFERED_FORMATS = frozenset({"WEBP", "HEIF"})
BUFFER_BYTES_PER_PIXEL = 12


def _memory_need(img: Image.Image, within: int | None) -> int:
    """Bytes a decode holds at its peak: the decoded pixels, an 8-bit RGB copy of them unless
    they are RGB already, and what the caller makes of a photo fitted ``within`` (a copy, a
    JPEG encoder's buffers)."""
    pixels = img.width * img.height
    need = pixels * (bytes_per_pixel(img.mode) + (0 if img.mode == "RGB" else 4))
    if img.format in BUFFERED_FORMATS:
        need += pixels * BUFFER_BYTES_PER_PIXEL
    if img.mode in DEEP_MODES:
        need += pixels * 3  # the 16-bit values read out, then scaled to 8 bits
    kept = pixels
    if within is not None:
        kept = int(pixels * min(1.0, within / max(img.width, img.height)) ** 2)
        need += kept * 4 * 3
    if _turned_in_header(img):
        need += kept * 4  # the upright copy
    return need


#: How to turn an image stored with each EXIF orientation upright (as ImageOps.exif_transpose).
UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def _orientation(img: Image.Image) -> Image.Transpose | None:
    """How to turn the loaded image upright by its EXIF orientation; None if it is upright.

    Only after loading: a PNG's getexif() decodes the whole image to find an EXIF chunk."""
    orientation = img.getexif().get(0x0112)
    return UPRIGHT.get(orientation) if isinstance(orientation, int) else None


def _turned_in_header(img: Image.Image) -> bool:
    """Whether EXIF read with the header (not decoding) says the image is stored turned."""
    raw = img.info.get("exif")
    if not isinstance(raw, bytes):
        return False
    exif = Image.Exif()
    try:
        exif.load(raw)
    except (OSError, SyntaxError, ValueError, struct.error):
        return False
    return exif.get(0x0112) in UPRIGHT


def _upright_rgb(img: Image.Image, within: int | None, turn: Image.Transpose | None
                 ) -> Image.Image:
    """The loaded image as a new upright 8-bit RGB image, scaled to fit ``within`` if given."""
    if img.mode == "RGB":  # a plain image on the same pixels: no copy, no EXIF or ICC kept
        out = img._new(img.im)
        out.info = {}
    else:
        out = eight_bit(img).convert("RGB")
    if within is not None and max(out.size) > within:
        out.thumbnail((within, within), Image.Resampling.LANCZOS)
    return out.transpose(turn) if turn is not None else out


def eight_bit(img: Image.Image) -> Image.Image:
    """16-bit and 32-bit integer grey images (scientific and thermal cameras) scaled to 0–255.

    Pillow's own conversion clips them instead, which turns a 16-bit photo white. A lookup
    table keeps the memory at the 16-bit values plus the 8-bit result (no float copy).
    """
    if img.mode not in DEEP_MODES:
        return img
    values = np.asarray(img)
    if values.dtype != np.uint16:
        values = np.clip(values, 0, 65535).astype(np.uint16)
    top = 65535.0 if int(values.max(initial=0)) > 255 else 255.0
    lut = np.clip(np.arange(65536, dtype=np.float64) * (255.0 / top), 0, 255).round()
    return Image.fromarray(lut.astype(np.uint8)[values])
