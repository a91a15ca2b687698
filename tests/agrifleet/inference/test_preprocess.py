"""Shared preprocessing turns any decodable photo into the model's uint8 square; refuses others."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from agrifleet.inference import preprocess as pp
from agrifleet.inference.preprocess import ImageError, open_image, preprocess, to_input
from tests.agrifleet.inference.conftest import leaf_jpeg


def _encode(img: Image.Image, fmt: str = "JPEG", **kw: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


@pytest.mark.parametrize("size", [(640, 480), (480, 640), (96, 96), (50, 300), (4000, 3000)])
def test_any_size_and_aspect_gives_the_model_square(size: tuple[int, int]) -> None:
    out = preprocess(leaf_jpeg(size), 96)
    assert out.shape == (96, 96, 3)
    assert out.dtype == np.uint8


def test_centre_crop_keeps_the_middle_of_a_wide_photo() -> None:
    img = Image.new("RGB", (300, 100), (255, 0, 0))
    img.paste((0, 0, 255), (100, 0, 200, 100))  # blue square in the middle third
    out = preprocess(_encode(img, "PNG"), 32)
    assert (out[:, :, 2] > 200).all() and (out[:, :, 0] < 50).all()


def test_exif_orientation_is_applied() -> None:
    img = Image.new("RGB", (200, 100), (0, 0, 0))
    img.paste((255, 255, 255), (0, 0, 100, 100))  # left half white
    exif = Image.Exif()
    exif[0x0112] = 6  # stored rotated: viewers turn it 90° clockwise
    upright = open_image(_encode(img, "JPEG", exif=exif, quality=95))
    assert upright.size == (100, 200)
    pixels = np.asarray(upright)
    assert pixels[:90].mean() > 200 and pixels[110:].mean() < 50  # white ends up on top


@pytest.mark.parametrize("mode", ["L", "RGBA", "P", "CMYK", "I;16"])
def test_other_colour_modes_become_rgb(mode: str) -> None:
    img = Image.new("RGB", (64, 48), (40, 160, 60)).convert(mode)
    fmt = "JPEG" if mode in ("L", "CMYK") else "PNG"
    assert preprocess(_encode(img, fmt), 32).shape == (32, 32, 3)


@pytest.mark.parametrize("fmt", ["PNG", "TIFF"])
def test_a_16_bit_grey_photo_looks_like_its_8_bit_self(fmt: str) -> None:
    grey = Image.open(io.BytesIO(leaf_jpeg((120, 90)))).convert("L")
    deep = Image.fromarray(np.asarray(grey).astype(np.uint16) * 257)
    assert deep.mode.startswith("I;16")
    eight = preprocess(_encode(grey, "PNG"), 64).astype(int)
    sixteen = preprocess(_encode(deep, fmt), 64).astype(int)
    assert np.abs(eight - sixteen).max() <= 1


def test_a_thumbnail_too_small_to_show_a_lesion_is_refused() -> None:
    with pytest.raises(ImageError, match="too small"):
        preprocess(leaf_jpeg((40, 20)), 96)
    assert preprocess(leaf_jpeg((40, pp.MIN_SIDE)), 96).shape == (96, 96, 3)


def test_paths_bytes_and_files_give_the_same_pixels(tmp_path: Path) -> None:
    data = leaf_jpeg()
    path = tmp_path / "leaf.jpg"
    path.write_bytes(data)
    a = preprocess(data, 64)
    with path.open("rb") as f:
        c = preprocess(f, 64)
    assert np.array_equal(a, preprocess(path, 64))
    assert np.array_equal(a, preprocess(str(path), 64))
    assert np.array_equal(a, c)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"this is a text file, not a photo\n", "not a readable image"),
        (leaf_jpeg()[:600], "not a readable image"),  # truncated mid-scan
        (b"\xff\xd8\xff\xe0" + b"\x00" * 200, "not a readable image"),  # JPEG header, no body
        (b"%PDF-1.4\n%\xe2\xe3", "not a readable image"),
    ],
)
def test_bad_input_is_a_clear_image_error(data: bytes, message: str) -> None:
    with pytest.raises(ImageError, match=message):
        preprocess(data, 96)


def test_missing_file_is_an_image_error(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match="no such file"):
        preprocess(tmp_path / "gone.jpg", 96)


def test_oversized_image_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pp, "MAX_PIXELS", 100 * 100)
    with pytest.raises(ImageError, match="too large"):
        preprocess(leaf_jpeg((200, 200)), 32)


def test_to_input_quantises_with_the_tensor_parameters() -> None:
    pixels = np.array([[[[0, 128, 255]]]], dtype=np.uint8)
    assert to_input(pixels, np.int8, 1.0, -128).tolist() == [[[[-128, 0, 127]]]]
    assert to_input(pixels, np.uint8, 2.0, 0).tolist() == [[[[0, 64, 128]]]]
    f = to_input(pixels, np.float32)
    assert f.dtype == np.float32 and f.tolist() == [[[[0.0, 128.0, 255.0]]]]
    with pytest.raises(ValueError, match="scale"):
        to_input(pixels, np.int8, 0.0, 0)
