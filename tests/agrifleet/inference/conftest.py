"""Fixtures for on-device inference: the TFLite runtimes to test with, model folders, photos."""

from __future__ import annotations

import io
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from agrifleet.inference.runtime import ENV_VAR, available_runtimes
from agrifleet.models.shipped import default_model_dir

DATA = Path(__file__).parent / "data"


def _runtimes() -> list[str]:
    forced = os.environ.get(ENV_VAR)
    return [forced] if forced else available_runtimes()


@pytest.fixture(params=_runtimes() or ["none"])
def runtime(request: pytest.FixtureRequest) -> str:
    """Each TFLite runtime installed here (or only the one AGRIFLEET_TFLITE_RUNTIME forces)."""
    if request.param == "none":
        pytest.skip("no TFLite runtime installed")
    return str(request.param)


@pytest.fixture
def shipped_dir() -> Path:
    """The shipped model folder (read-only: copy it before changing anything)."""
    path = default_model_dir()
    if not (path / "manifest.json").is_file():
        pytest.skip(f"no shipped model at {path}")
    return path


@pytest.fixture
def model_copy(shipped_dir: Path, tmp_path: Path) -> Path:
    """A private copy of the shipped model folder that a test may damage."""
    dest = tmp_path / "model"
    dest.mkdir()
    for name in ("model.tflite", "manifest.json", "labels.txt"):
        shutil.copyfile(shipped_dir / name, dest / name)
    return dest


def edit_manifest(model_dir: Path, **changes: object) -> None:
    """Change top-level fields of a model folder's manifest.json."""
    path = model_dir / "manifest.json"
    data = json.loads(path.read_text())
    data.update(changes)
    path.write_text(json.dumps(data))


def leaf_jpeg(size: tuple[int, int] = (320, 240), seed: int = 0, spots: int = 12,
              vary: bool = False) -> bytes:
    """A synthetic leaf photo: a green ellipse with brown spots on a grey background; with
    ``vary`` the leaf's outline and the background's shade differ by seed (photos that the
    split's near-duplicate hash tells apart)."""
    from PIL import ImageDraw

    rng = np.random.default_rng(seed)
    shape = np.random.default_rng(seed + 7919).uniform(-0.12, 0.12, 4) if vary else np.zeros(4)
    grey = int(np.random.default_rng(seed + 104729).integers(60, 200)) if vary else 128
    img = Image.new("RGB", size, (grey, grey, grey - 8))
    draw = ImageDraw.Draw(img)
    w, h = size
    draw.ellipse((w * (0.15 + shape[0]), h * (0.1 + shape[1]), w * (0.85 + shape[2]),
                  h * (0.9 + shape[3])), fill=(60, 140, 50))
    for _ in range(spots):
        x, y = rng.uniform(0.3, 0.7) * w, rng.uniform(0.25, 0.75) * h
        r = rng.uniform(2, 8)
        draw.ellipse((x - r, y - r, x + r, y + r), fill=(110, 70, 30))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=90)
    return buf.getvalue()


@pytest.fixture
def leaf() -> bytes:
    """One synthetic leaf JPEG."""
    return leaf_jpeg()


@pytest.fixture
def tiny_model() -> Path:
    """An int8 TFLite model with a 32x32 input (the wrong size for any real manifest)."""
    return DATA / "tiny_32px.tflite"
