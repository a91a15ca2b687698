"""The shared photo decoder refuses hostile files from their header, before a pixel is decoded,
reads the photos a phone makes (a large JPEG at reduced scale), and keeps the memory of the
photos being decoded at once within its budget."""

from __future__ import annotations

import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator

import numpy as np
import pytest
from PIL import Image

from agrifleet import images
from agrifleet.images import (
    DecodeGate,
    Decoder,
    ImageError,
    ImageLimits,
    ImageTooLarge,
    UnsupportedImage,
    decode,
)
from tests.agrifleet import hostile_photos as hp


@pytest.fixture
def loads(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, tuple[int, int]]]]:
    """Every Image.load() the decoder makes: (mode, size) when pixels are decoded."""
    seen: list[tuple[str, tuple[int, int]]] = []
    real = Image.Image.load

    def spy(self: Image.Image) -> object:
        seen.append((self.mode, self.size))
        return real(self)

    monkeypatch.setattr(Image.Image, "load", spy)
    from PIL import ImageFile

    real_file = ImageFile.ImageFile.load

    def spy_file(self: ImageFile.ImageFile) -> object:
        seen.append((self.mode, self.size))
        return real_file(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", spy_file)
    yield seen


@pytest.mark.parametrize(("make", "refusal", "says"), [
    (hp.float_tiff, UnsupportedImage, "not a photo the fleet can read"),
    (hp.deep_png, ImageTooLarge, "8000x8000, too large"),
    (hp.bomb_png, ImageTooLarge, "too large"),
    (hp.bomb_jpeg, ImageTooLarge, "too large"),
    (lambda: hp.bomb_png(9000, 6000), ImageTooLarge, "9000x6000, too large"),
    (lambda: hp.bomb_jpeg(9000, 6000), ImageTooLarge, "9000x6000, too large"),
    (hp.animated_png, UnsupportedImage, "animation of 2 frames"),
    (hp.text_named_jpg, UnsupportedImage, "not a photo the fleet can read"),
])
def test_a_hostile_file_is_refused_before_any_pixel_is_decoded(
        make: Callable[[], bytes], refusal: type[ImageError], says: str,
        loads: list[tuple[str, tuple[int, int]]]) -> None:
    data = make()
    loads.clear()
    assert len(data) < 400_000  # small on the wire: the danger is in what it claims
    tracemalloc.start()
    try:
        with pytest.raises(refusal, match=says) as refused:
            decode(data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert loads == []
    assert peak < 8 * 1024 * 1024
    assert " at 0x" not in str(refused.value) and "BytesIO" not in str(refused.value)


def test_a_truncated_jpeg_is_refused_with_a_plain_message() -> None:
    with pytest.raises(UnsupportedImage, match="damaged or truncated") as refused:
        decode(hp.truncated_jpeg())
    assert " at 0x" not in str(refused.value)


def test_a_float_image_is_refused_even_where_its_format_is_allowed() -> None:
    tiff = Decoder(ImageLimits(formats=frozenset({"TIFF", "JPEG"})))
    with pytest.raises(UnsupportedImage, match="mode F"):
        decode(hp.float_tiff(), decoder=tiff)


@pytest.mark.parametrize(("make", "size"), [
    (lambda: hp.phone_jpeg((1600, 1200)), (1600, 1200)),
    (lambda: hp.phone_png((1170, 2532)), (1170, 2532)),
    (lambda: hp.phone_webp((1600, 1200)), (1600, 1200)),
    (lambda: hp.encode(hp.leaf((800, 600)), "MPO", save_all=True,
                       append_images=[hp.leaf((800, 600))]), (800, 600)),
])
def test_the_photos_a_phone_makes_are_read(make: Callable[[], bytes],
                                           size: tuple[int, int]) -> None:
    photo = decode(make())
    assert (photo.mode, photo.size) == ("RGB", size)
    centre = np.asarray(photo)[size[1] // 2, size[0] // 2]
    assert centre[1] > centre[0]  # the leaf is green


def test_a_16_bit_grey_photo_within_the_limits_is_read_as_8_bit() -> None:
    grey = Image.fromarray(np.arange(64 * 48, dtype=np.uint16).reshape(48, 64) * 20)
    assert grey.mode.startswith("I;16")
    photo = decode(hp.encode(grey, "PNG"))
    assert photo.mode == "RGB"
    brightest = (64 * 48 - 1) * 20
    assert np.asarray(photo)[-1, -1, 0] == round(brightest * 255 / 65535)


def test_a_large_jpeg_is_decoded_reduced(loads: list[tuple[str, tuple[int, int]]]) -> None:
    data = hp.phone_jpeg((4000, 3000))
    loads.clear()
    fitted = decode(data, within=1024)
    assert max(fitted.size) == 1024
    assert loads and all(s == (2000, 1500) for _, s in loads), loads  # a quarter of the pixels
    loads.clear()
    model = decode(data, at_least=224)
    assert min(model.size) >= 224 and model.size == (500, 375)
    assert all(s == (500, 375) for _, s in loads)


def test_exif_orientation_turns_a_reduced_photo_upright() -> None:
    img = hp.leaf((1600, 800))
    exif = Image.Exif()
    exif[0x0112] = 6
    turned = decode(hp.encode(img, "JPEG", exif=exif), within=400)
    assert turned.size == (200, 400)


def test_photos_wait_for_their_share_of_the_decode_memory() -> None:
    gate = DecodeGate(budget_bytes=100, slots=2)
    inside: list[int] = []
    peak = 0
    lock = threading.Lock()

    def work(need: int) -> None:
        nonlocal peak
        with gate.hold(need):
            with lock:
                inside.append(need)
                peak = max(peak, gate.in_use)
            time.sleep(0.05)

    threads = [threading.Thread(target=work, args=(n,)) for n in (60, 60, 30, 30, 30, 10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert sorted(inside) == [10, 30, 30, 30, 60, 60]
    assert peak <= 100 and gate.in_use == 0
    with pytest.raises(ImageTooLarge, match="more than"), gate.hold(101):
        pass


def test_at_most_the_configured_number_of_photos_decode_at_once(
        monkeypatch: pytest.MonkeyPatch) -> None:
    decoder = Decoder(ImageLimits(concurrent_decodes=2, decode_memory_mb=512))
    running, most = 0, 0
    lock = threading.Lock()
    real = images._upright_rgb

    def slow(*args: object) -> Image.Image:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.05)
        try:
            return real(*args)  # type: ignore[arg-type]
        finally:
            with lock:
                running -= 1

    monkeypatch.setattr(images, "_upright_rgb", slow)
    data = hp.phone_jpeg((640, 480))
    threads = [threading.Thread(target=decode, args=(data,), kwargs={"decoder": decoder})
               for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert most == 2


def test_a_photo_that_alone_needs_more_than_the_budget_is_too_large() -> None:
    small = Decoder(ImageLimits(decode_memory_mb=16))
    with pytest.raises(ImageTooLarge, match="more than the 16 MB"):
        decode(hp.phone_png((2500, 2000)), decoder=small)  # 5 MP: 20 MB decoded
    assert decode(hp.phone_jpeg((2000, 1500)), within=500, decoder=small).size == (500, 375)


def test_the_process_limits_are_set_by_configure() -> None:
    before = images.current()
    try:
        mine = images.configure(ImageLimits(max_pixels=100 * 100))
        assert images.current() is mine
        assert images.configure(ImageLimits(max_pixels=100 * 100)) is mine  # same: kept
        with pytest.raises(ImageTooLarge, match=r"at most 0\.01 megapixels"):
            decode(hp.phone_jpeg((200, 200)))
    finally:
        images.configure(before.limits)


def test_limits_refuse_typos_and_nonsense() -> None:
    with pytest.raises(ValueError, match="extra"):
        ImageLimits.model_validate({"max_pixel": 10})
    with pytest.raises(ValueError, match="greater than or equal"):
        ImageLimits(concurrent_decodes=0)
